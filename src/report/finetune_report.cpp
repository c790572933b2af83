#include "report/finetune_report.hpp"

#include <fmt/format.h>

#include "report/text_table.hpp"
#include "util/format.hpp"

namespace ctscope::report {

namespace {

nlohmann::json log_json(const std::vector<nlohmann::json>& log) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& line : log) a.push_back(line);
  return a;
}

std::string ppl_cell(const EvalResult& e) { return fmt::format("{:.4f}", e.ppl); }
std::string optional_cell(const std::optional<double>& v, const char* f) {
  return v ? fmt::format(fmt::runtime(f), *v) : std::string("-");
}

}  // namespace

nlohmann::json finetune_json(const FinetuneResult& r, uint64_t stored_params, uint64_t total_params) {
  return {{"params", {{"trainable", r.trainable_params}, {"stored", stored_params}, {"total", total_params}}},
          {"before", r.before.to_json()},
          {"after", r.after.to_json()},
          {"training_log", log_json(r.log)},
          {"timing", {{"seconds", r.seconds}, {"trained_tokens", r.trained_tokens}, {"tokens_per_s", r.tokens_per_s()}}}};
}

std::string finetune_compare_text(const FinetuneComparison& c) {
  Table t;
  t.head = {"variant", "trainable", "stored params", "ppl before", "ppl after", "KL", "top-1"};
  for (const auto& r : c.rows) {
    const EvalResult& last = r.after ? *r.after : r.before;
    t.rows.push_back({r.variant, r.trainable_params ? with_commas(r.trainable_params) : std::string("-"),
                      with_commas(r.stored_params), ppl_cell(r.before), r.after ? ppl_cell(*r.after) : std::string("-"),
                      optional_cell(last.kl_mean, "{:.4f}"), optional_cell(last.top1_agreement, "{:.3f}")});
  }
  t.rows.push_back({"uniform guess", "-", "-", fmt::format("{:.4f}", c.floors.uniform_ppl), "-", "-", "-"});
  t.rows.push_back({"unigram of the text", "-", "-", fmt::format("{:.4f}", c.floors.unigram.ppl), "-", "-", "-"});
  t.notes = {"ppl = perplexity on the validation text (eval's rule); KL = KL(reference || variant) per scored token and "
             "top-1 = argmax agreement with the reference, after training (as they are for rows not trained).",
             "Trained rows share data, steps, schedule and seed; LoRA's rank is chosen so its trainable parameters "
             "come nearest the amplitudes' at the same K."};
  return render_text(t);
}

nlohmann::json finetune_compare_json(const FinetuneComparison& c) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : c.rows) {
    nlohmann::json j = {{"variant", r.variant},
                        {"kind", r.kind},
                        {"basis", r.basis ? nlohmann::json(ct::basis_name(*r.basis)) : nlohmann::json()},
                        {"K", r.K ? nlohmann::json(r.K) : nlohmann::json()},
                        {"lora_rank", r.lora_rank ? nlohmann::json(r.lora_rank) : nlohmann::json()},
                        {"trainable_params", r.trainable_params},
                        {"stored_params", r.stored_params},
                        {"before", r.before.to_json()},
                        {"after", r.after ? r.after->to_json() : nlohmann::json()},
                        {"training_log", log_json(r.log)},
                        {"seconds", r.seconds}};
    rows.push_back(std::move(j));
  }
  return {{"finetune_rows", rows}, {"floors", c.floors.to_json()}};
}

nlohmann::json finetune_units() {
  return {{"ppl", "perplexity, exp(mean NLL in nats) on the validation text"},
          {"kl_mean", "nats per scored token, KL(reference || model)"},
          {"top1_agreement", "fraction of scored tokens"},
          {"train_loss", "nats per token, mean cross-entropy of the step's batches"},
          {"train_kl", "nats per token, mean KL(teacher || student) of the step's batches (with a teacher; the loss "
                       "trained is train_loss + distill_weight x train_kl)"},
          {"lr", "learning rate"},
          {"grad_norm", "global L2 norm of the gradient before clipping"},
          {"seconds", "wall seconds since the run began"},
          {"trainable_params", "numbers the optimizer updates"},
          {"stored_params", "numbers a file of the variant holds"}};
}

}  // namespace ctscope::report
