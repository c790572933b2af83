#include "eval/finetune_run.hpp"

#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "ctfile/ct_weights.hpp"
#include "runtime/llama_model.hpp"
#include "text/eval_tokens.hpp"
#include "train/teacher.hpp"
#include "train/teacher_tokens.hpp"
#include "train/train_state.hpp"
#include "train/token_windows.hpp"
#include "util/error.hpp"

namespace ctscope {

namespace {

// The weights of a model given by path (a .ct.safetensors runs reconstructed),
// checked to share `model`'s vocabulary; `what` names its role in messages.
std::shared_ptr<const LlamaWeights> load_companion(const Checkpoint& model, const std::string& path, const char* what) {
  const Checkpoint ck = ctfile::open_for_inference(path);
  validate_llama_config(ck.config, path);
  if (ck.config.vocab_size != model.config.vocab_size)
    fail(path, "the {} has a vocabulary of {} tokens but the model's has {}: KL needs the same vocabulary", what,
         ck.config.vocab_size, model.config.vocab_size);
  return std::make_shared<const LlamaWeights>(ctfile::load_inference_weights(ck));
}

}  // namespace

std::optional<int64_t> teacher_token_count(const std::string& train) {
  constexpr std::string_view prefix = "teacher:";
  if (train.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string n = train.substr(prefix.size());
  if (n.empty() || n.size() > 12 || n.find_first_not_of("0123456789") != std::string::npos || std::stoll(n) == 0)
    fail(train, "'teacher:N' needs N, the number of tokens to sample, as a whole number from 1 to 999999999999");
  return std::stoll(n);
}

FinetuneData load_finetune_data(const Checkpoint& model, const FinetuneInputs& in, const ProgressFn& progress) {
  FinetuneData d;
  d.ctx = in.ctx;
  const std::optional<int64_t> train_sampled = teacher_token_count(in.train);
  const std::optional<int64_t> valid_sampled = teacher_token_count(in.valid);
  for (const auto* s : {&in.train, &in.valid})
    if (teacher_token_count(*s) && in.teacher.empty())
      fail(*s, "sampling from the teacher needs --teacher MODEL (usually the original)");
  // Texts first: a text too short is found before any model is loaded.
  if (!valid_sampled) {
    auto valid = load_eval_tokens(model, in.valid, "", in.tokenizer);
    plan_chunks(static_cast<int64_t>(valid.ids.size()), in.ctx, valid.where);
    d.valid_tokens = std::move(valid.ids);
    d.valid_where = std::move(valid.where);
  }
  if (!train_sampled) {
    auto train = load_eval_tokens(model, in.train, "", in.tokenizer);
    d.train_tokens = std::move(train.ids);
    d.train_where = std::move(train.where);
    train::TokenWindows check(d.train_tokens, in.ctx, 0, d.train_where);  // at least one window, or an Error
  }
  if (!in.teacher.empty()) d.teacher = load_companion(model, in.teacher, "teacher");
  d.teacher_where = in.teacher;
  d.reference = in.reference.empty() ? d.teacher : load_companion(model, in.reference, "reference");
  const auto bos = static_cast<int32_t>(model.config.bos_id);
  // Validation samples use another seed than training's: they must be text the run never trained on.
  if (train_sampled) {
    d.train_tokens = train::sample_teacher_tokens(*d.teacher, *train_sampled, in.ctx, in.seed, bos, progress);
    d.train_where = in.train;
  }
  if (valid_sampled) {
    d.valid_tokens = train::sample_teacher_tokens(*d.teacher, *valid_sampled, in.ctx, ~in.seed, bos, progress);
    d.valid_where = in.valid;
    plan_chunks(static_cast<int64_t>(d.valid_tokens.size()), in.ctx, d.valid_where);
  }
  return d;
}

namespace {

// Eval's rule for one candidate, against d.reference when there is one.
EvalResult validate_candidate(const ModelConfig& c, const ChunkLogitsFn& candidate, const FinetuneData& d) {
  std::optional<LlamaModel> reference;
  std::optional<ChunkLogitsFn> reference_fn;
  if (d.reference) {
    reference.emplace(d.reference, d.ctx);
    reference_fn = chunk_logits(*reference);
  }
  const ComparisonResult r = evaluate_perplexity(d.valid_tokens, d.ctx, static_cast<int32_t>(c.bos_id), c.vocab_size,
                                                 {candidate}, reference_fn ? &*reference_fn : nullptr, {}, d.valid_where);
  return r.candidates.at(0);
}

}  // namespace

EvalResult validate(std::shared_ptr<const LlamaWeights> w, const FinetuneData& d) {
  const ModelConfig c = w->config;
  LlamaModel student(std::move(w), d.ctx);
  return validate_candidate(c, chunk_logits(student), d);
}

EvalResult validate(train::ParameterSet<float>& params, const FinetuneData& d,
                    std::optional<train::Activations<float>>& scratch) {
  const ModelConfig& c = params.config();
  if (!scratch) scratch = train::plan_activations<float>(c, 1, d.ctx);
  // A step materializes before its forward, so after an update the dense,
  // LoRA and K >= d links still hold the previous parameters.
  params.materialize();
  const train::StepWeights<float> w = params.step_weights();
  const std::vector<int32_t> unscored(static_cast<size_t>(d.ctx), -1);  // the logits only: eval's rule scores them
  const ChunkLogitsFn student = [&](std::span<const int32_t> chunk, int64_t first_row) {
    train::train_forward(w, *scratch, chunk, unscored);
    const auto V = static_cast<size_t>(c.vocab_size);
    return std::span<const float>(scratch->logits).subspan(static_cast<size_t>(first_row) * V);
  };
  return validate_candidate(c, student, d);
}

namespace {

void add_validation(nlohmann::json& line, const EvalResult& e) {
  line["valid_ppl"] = e.ppl;
  if (e.kl_mean) line["kl_mean"] = *e.kl_mean;
  if (e.top1_agreement) line["top1_agreement"] = *e.top1_agreement;
}

std::string progress_item(const train::StepLog& s, const std::optional<EvalResult>& last, double tokens_per_s) {
  std::string item = fmt::format("loss {:.4f}", s.loss);
  if (last) item += fmt::format("  valid ppl {:.4g}", last->ppl);
  return item + fmt::format("  {:.0f} tok/s", tokens_per_s);
}

}  // namespace

FinetuneResult finetune(train::ParameterSet<float>& params, const FinetuneData& d, const FinetuneSettings& s,
                        const FinetuneCallbacks& cb) {
  if (s.distill_weight > 0 && !d.teacher) throw Error("distillation (a distill weight above 0) needs a teacher");
  const auto t0 = std::chrono::steady_clock::now();
  FinetuneResult r;
  r.trainable_params = params.trainable_count();
  const auto add_line = [&](nlohmann::json line) {
    if (cb.on_log) cb.on_log(line);
    r.log.push_back(std::move(line));
  };
  train::Checkpointing checkpointing = s.checkpointing;
  if (!checkpointing.resume.empty())  // checked before the first validation: a wrong state fails at once
    for (const std::string& line : train::read_train_state_header(checkpointing.resume, checkpointing.fingerprint).log)
      add_line(nlohmann::json::parse(line));
  checkpointing.log_lines = [&r] {
    std::vector<std::string> lines;
    for (const auto& line : r.log) lines.push_back(line.dump());
    return lines;
  };
  std::optional<train::Activations<float>> valid_scratch;
  r.before = validate(params, d, valid_scratch);
  std::optional<EvalResult> last;
  const train::TokenWindows windows(d.train_tokens, d.ctx, s.seed, d.train_where);
  std::optional<train::Teacher> teacher;
  if (s.distill_weight > 0)
    teacher.emplace(d.teacher, params.config().vocab_size, s.run.batch, d.ctx, s.distill_weight, d.teacher_where);
  const int64_t tokens_per_step = s.run.accumulate * s.run.batch * d.ctx;
  const auto on_step = [&](const train::StepLog& step) {
    nlohmann::json line = step.to_json();
    const bool final_step = step.step + 1 == s.run.steps;
    if ((s.eval_every > 0 && (step.step + 1) % s.eval_every == 0) || final_step) {
      last = validate(params, d, valid_scratch);
      add_validation(line, *last);
    }
    r.trained_tokens += tokens_per_step;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    add_line(std::move(line));
    if (cb.progress)
      cb.progress(static_cast<size_t>(step.step + 1), static_cast<size_t>(s.run.steps),
                  progress_item(step, last, static_cast<double>(r.trained_tokens) / seconds), 0);
  };
  train::train_run(params, windows, s.run, on_step, checkpointing, teacher ? teacher->fn() : train::TeacherFn<float>{});
  r.after = last ? *last : validate(params, d, valid_scratch);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace ctscope
