// ctscope eval-compression MODEL --text FILE --K 8,64: the table the paper never
// showed - what each compression costs in perplexity and in agreement with the
// original model, beside fair alternatives at the same parameter budget.
#include <cstdio>
#include <iostream>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.hpp"
#include "ct/compression_variants.hpp"
#include "eval/eval_tokens.hpp"
#include "eval/llama_model.hpp"
#include "eval/perplexity.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/format.hpp"

namespace ctscope::cli {
namespace {

struct Opts {
  std::string model, text, text_ids, tokenizer, json, K = "8,64", bases = "gaussian,dct,svd,universal";
  ct::AnalysisSettings selection;  // preset / include / exclude
  int64_t ctx = 512, max_chunks = 0;
  double max_memory_gb = 8;
};

struct Row {
  ct::Variant variant;
  uint64_t stored_params = 0, stored_bytes = 0;
  double pooled_r2 = 1;
  EvalResult eval;
};

int run(const Opts& o) {
  std::vector<ct::Variant> variants = {{ct::Variant::Kind::Original, {}, 0}, {ct::Variant::Kind::Int8RowAbsmax, {}, 0}};
  const auto bases = parse_basis_list(o.bases, "--bases");
  for (int K : parse_k_list(o.K))
    for (auto b : bases) variants.push_back({ct::Variant::Kind::Ct, b, K});
  if (!o.json.empty()) check_writable(o.json);
  const Checkpoint ck = Checkpoint::open(o.model);
  validate_llama_config(ck.config, o.model);
  auto [tokens, where] = load_eval_tokens(ck, o.text, o.text_ids, o.tokenizer);
  auto plan = plan_chunks(static_cast<int64_t>(tokens.size()), o.ctx, where);
  if (o.max_chunks > 0 && plan.n_chunks > o.max_chunks) tokens.resize(static_cast<size_t>(o.max_chunks * o.ctx));

  ct::AnalysisSettings sel = o.selection;
  sel.Ks = parse_k_list(o.K);
  ct::VariantBuilder builder(ck, sel);
  std::fprintf(stderr, "selection: %s (%zu matrices); %zu tokens in %ld chunks of %ld\n",
               builder.selection().description.c_str(), builder.selection().matrices.size(), tokens.size(),
               static_cast<long>(tokens.size() / static_cast<size_t>(o.ctx)), static_cast<long>(o.ctx));

  // The reference is the original model; candidates run in groups that fit the
  // memory budget, each group scored against the reference in one pass.
  auto ref_w = std::make_shared<const LlamaWeights>(load_llama_weights(ck));
  LlamaModel ref_model(ref_w, o.ctx);
  const ChunkLogitsFn ref_fn = chunk_logits(ref_model);
  const double weights_gb = 4.0 * static_cast<double>(ck.total_params()) / 1e9;
  const size_t group = std::max<size_t>(1, static_cast<size_t>(o.max_memory_gb / weights_gb) - 1);

  std::vector<Row> rows;
  for (size_t start = 1; start < variants.size(); start += group) {  // variants[0] is the reference itself
    std::vector<std::unique_ptr<LlamaModel>> models;
    std::vector<ChunkLogitsFn> fns;
    for (size_t i = start; i < std::min(variants.size(), start + group); ++i) {
      std::fprintf(stderr, "building %s\n", variants[i].label().c_str());
      auto vw = builder.build(variants[i]);
      rows.push_back({variants[i], vw.stored_params, vw.stored_bytes, vw.pooled_r2(), {}});
      models.push_back(std::make_unique<LlamaModel>(std::make_shared<const LlamaWeights>(std::move(vw.weights)), o.ctx));
      fns.push_back(chunk_logits(*models.back()));
    }
    auto res = evaluate_perplexity(tokens, o.ctx, static_cast<int32_t>(ck.config.bos_id), ck.config.vocab_size, fns,
                                   &ref_fn,
                                   [&](int m, int64_t c, const ChunkPlan& p, double ppl) {
                                     if (m == 0)
                                       std::fprintf(stderr, "\r  [%ld/%ld] ppl %.4f", static_cast<long>(c + 1),
                                                    static_cast<long>(p.n_chunks), ppl);
                                   },
                                   where);
    std::fprintf(stderr, "\n");
    for (size_t k = 0; k < res.candidates.size(); ++k) rows[rows.size() - res.candidates.size() + k].eval = res.candidates[k];
    if (start == 1) {
      Row orig{variants[0], ck.total_params(), ck.total_bytes(), 1.0, *res.reference};
      orig.eval.kl_mean = 0;
      orig.eval.kl_p99 = 0;
      orig.eval.top1_agreement = 1;
      rows.insert(rows.begin(), orig);
    }
  }

  const double src_bytes = static_cast<double>(ck.total_bytes());
  fmt::print("{:<20}{:>14}{:>9}{:>10}{:>20}{:>11}{:>11}{:>8}\n", "variant", "stored params", "storage", "R^2",
             "perplexity", "KL mean", "KL p99", "top-1");
  nlohmann::json jrows = nlohmann::json::array();
  for (const auto& r : rows) {
    const double ratio = src_bytes / static_cast<double>(r.stored_bytes);
    fmt::print("{:<20}{:>14}{:>8.2f}x{:>10.4f}{:>20}{:>11.4f}{:>11.4f}{:>8.3f}\n", r.variant.label(),
               with_commas(r.stored_params), ratio, r.pooled_r2, fmt::format("{:.3f} ± {:.3f}", r.eval.ppl, r.eval.ppl_stderr),
               r.eval.kl_mean.value_or(0), r.eval.kl_p99.value_or(0), r.eval.top1_agreement.value_or(0));
    nlohmann::json j = r.eval.to_json();
    j["variant"] = r.variant.label();
    j["kind"] = r.variant.kind == ct::Variant::Kind::Original ? "original"
                : r.variant.kind == ct::Variant::Kind::Int8RowAbsmax ? "int8" : "ct";
    if (r.variant.kind == ct::Variant::Kind::Ct) {
      j["basis"] = ct::basis_name(r.variant.basis);
      j["K"] = r.variant.K;
    }
    j["stored_params"] = r.stored_params;
    j["stored_bytes"] = r.stored_bytes;
    j["storage_ratio"] = ratio;
    j["pooled_r2"] = r.pooled_r2;
    jrows.push_back(std::move(j));
  }
  fmt::print("\nstorage = source bytes / bytes a file of the variant holds (amplitudes and bases as F32); R^2 pooled over "
             "the {} fitted matrices; KL = KL(original || variant) per scored token.\n",
             builder.selection().matrices.size());
  if (!o.json.empty()) {
    nlohmann::json out = {{"model", o.model}, {"text", where}, {"ctx", o.ctx},
                          {"selection", builder.selection().description}, {"variants", jrows}};
    write_file_atomic(o.json, out.dump(2) + "\n");
  }
  return 0;
}

const RegisterCommand reg(
    "eval-compression",
    "Perplexity, KL and top-1 agreement of the CT-compressed model at each K and basis, beside the original and an "
    "8-bit per-row quantization",
    75, [](CLI::App& sub) -> Action {
      auto o = std::make_shared<Opts>();
      add_model_arg(sub, o->model);
      add_text_options(sub, o->text, o->text_ids, o->tokenizer);
      sub.add_option("--K", o->K, "comma-separated K values")->capture_default_str();
      sub.add_option("--bases", o->bases, "comma-separated bases to compare")->capture_default_str();
      add_selection_options(sub, o->selection, "fit");
      add_ctx_option(sub, o->ctx);
      sub.add_option("--max-chunks", o->max_chunks, "score at most this many chunks (0 = all)")->capture_default_str();
      sub.add_option("--max-memory-gb", o->max_memory_gb, "memory budget for candidate models evaluated together")
          ->capture_default_str();
      sub.add_option("--json", o->json, "write the table as JSON to FILE");
      return [o]() { return run(*o); };
    });

}  // namespace
}  // namespace ctscope::cli
