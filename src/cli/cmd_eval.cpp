// ctscope eval MODEL: perplexity on a text by llama.cpp's rule, optionally with the
// KL divergence and top-1 agreement against a reference model.
#include <cstdio>
#include <optional>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "ctfile/ct_weights.hpp"
#include "text/eval_tokens.hpp"
#include "runtime/llama_model.hpp"
#include "eval/perplexity.hpp"
#include "text/token_ids.hpp"
#include "text/tokenizer.hpp"
#include "io/checkpoint.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/progress.hpp"

namespace ctscope::cli {
namespace {

struct Opts {
  std::string model, text, text_ids, tokenizer, ref, json;
  int64_t ctx = 512;
};

int run_eval(const Opts& o) {
  if (!o.json.empty()) check_writable(o.json);  // before the long run
  const Checkpoint ck = ctfile::open_for_inference(o.model);
  validate_llama_config(ck.config, o.model);
  std::optional<Checkpoint> ref_ck;
  if (!o.ref.empty()) {
    ref_ck = ctfile::open_for_inference(o.ref);
    validate_llama_config(ref_ck->config, o.ref);
    if (ref_ck->config.vocab_size != ck.config.vocab_size)
      fail(o.ref, "reference vocabulary has {} tokens but the model's has {}", ref_ck->config.vocab_size,
           ck.config.vocab_size);
  }
  auto [tokens, where] = load_eval_tokens(ck, o.text, o.text_ids, o.tokenizer);
  plan_chunks(static_cast<int64_t>(tokens.size()), o.ctx, where);  // too short: fail before loading weights
  LlamaModel model(std::make_shared<const LlamaWeights>(ctfile::load_inference_weights(ck)), o.ctx);
  std::optional<LlamaModel> ref_model;
  if (ref_ck) ref_model.emplace(std::make_shared<const LlamaWeights>(ctfile::load_inference_weights(*ref_ck)), o.ctx);
  const std::vector<ChunkLogitsFn> candidates = {chunk_logits(model)};
  std::optional<ChunkLogitsFn> ref_fn;
  if (ref_model) ref_fn = chunk_logits(*ref_model);
  ProgressBar bar(true, ProgressBar::Piped::LogLines);
  const auto progress = [&](int m, int64_t c, const ChunkPlan& plan, double ppl) {
    if (m == 0) bar(static_cast<size_t>(c + 1), static_cast<size_t>(plan.n_chunks), fmt::format("ppl {:.4f}", ppl));
  };
  const auto res = evaluate_perplexity(tokens, o.ctx, static_cast<int32_t>(ck.config.bos_id), ck.config.vocab_size,
                                       candidates, ref_fn ? &*ref_fn : nullptr, progress, where);
  const EvalResult& r = res.candidates.at(0);
  nlohmann::json j = r.to_json();
  if (!o.json.empty()) write_file_atomic(o.json, j.dump(2) + "\n");
  std::printf("ppl = %.4f +/- %.5f (%ld scored tokens, %ld chunks of %ld)\n", r.ppl, r.ppl_stderr,
              static_cast<long>(r.scored_tokens), static_cast<long>(r.chunks), static_cast<long>(r.ctx));
  if (res.reference)
    std::printf("reference ppl = %.4f +/- %.5f; KL(ref || model) mean %.6f, p99 %.6f; top-1 agreement %.4f\n",
                res.reference->ppl, res.reference->ppl_stderr, *r.kl_mean, *r.kl_p99, *r.top1_agreement);
  return 0;
}

const RegisterCommand reg(
    "eval", "Perplexity of a model on a text (llama.cpp's rule); with --ref, KL and top-1 agreement", 70,
    [](CLI::App& sub) -> Action {
      auto o = std::make_shared<Opts>();
      add_model_arg(sub, o->model);
      add_text_options(sub, o->text, o->text_ids, o->tokenizer);
      add_ctx_option(sub, o->ctx);
      sub.add_option("--ref", o->ref, "reference model (same vocabulary): report KL(ref || model) and top-1 agreement");
      sub.add_option("--json", o->json,
                     "write {ppl, ppl_stderr, scored_tokens, chunks, ctx[, kl_mean, kl_p99, top1_agreement]} here");
      return [o]() { return run_eval(*o); };
    });

}  // namespace
}  // namespace ctscope::cli
