#include "eval/model_perplexity.hpp"

#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "ctfile/ct_weights.hpp"
#include "runtime/llama_model.hpp"
#include "text/eval_tokens.hpp"
#include "util/error.hpp"

namespace ctscope {

nlohmann::json PerplexityRun::to_json() const {
  nlohmann::json j = result.candidates.at(0).to_json();
  j["floors"] = result.floors.to_json();
  j["model_context"] = model_context;
  j["text_tokens"] = n_tokens;
  j["notes"] = notes;
  if (result.reference) j["reference"] = result.reference->to_json();
  return j;
}

PerplexityRun model_perplexity(const PerplexityRequest& r, const ProgressFn& progress) {
  const Checkpoint ck = ctfile::open_for_inference(r.model);
  validate_llama_config(ck.config, r.model);
  std::optional<Checkpoint> ref_ck;
  if (!r.reference.empty()) {
    ref_ck = ctfile::open_for_inference(r.reference);
    validate_llama_config(ref_ck->config, r.reference);
    if (ref_ck->config.vocab_size != ck.config.vocab_size)
      fail(r.reference, "reference vocabulary has {} tokens but the model's has {}", ref_ck->config.vocab_size,
           ck.config.vocab_size);
  }
  auto [tokens, where] = load_eval_tokens(ck, r.text, r.text_ids, r.tokenizer);
  plan_chunks(static_cast<int64_t>(tokens.size()), r.ctx, where);  // too short: fail before loading weights
  PerplexityRun run;
  run.n_tokens = static_cast<int64_t>(tokens.size());
  run.model_context = LlamaModel::context_of(ck.config);
  run.notes = evaluation_notes(run.n_tokens, r.ctx, run.model_context);
  LlamaModel model(std::make_shared<const LlamaWeights>(ctfile::load_inference_weights(ck)), r.ctx);
  std::optional<LlamaModel> ref_model;
  if (ref_ck)
    ref_model.emplace(std::make_shared<const LlamaWeights>(ctfile::load_inference_weights(*ref_ck)), r.ctx);
  const std::vector<ChunkLogitsFn> candidates = {chunk_logits(model)};
  std::optional<ChunkLogitsFn> ref_fn;
  if (ref_model) ref_fn = chunk_logits(*ref_model);
  // A perplexity of NaN is no measurement: stop at the first chunk that shows it.
  const auto chunk_progress = [&](int m, int64_t c, const ChunkPlan& plan, double ppl) {
    if (!std::isfinite(ppl))
      fail(m < 0 ? r.reference : r.model,
           "the model's log-probabilities are not finite (NaN or Inf in its weights?): no perplexity");
    if (m == 0 && progress)
      progress(static_cast<size_t>(c + 1), static_cast<size_t>(plan.n_chunks), fmt::format("ppl {:.4f}", ppl), 0);
  };
  run.result = evaluate_perplexity(tokens, r.ctx, static_cast<int32_t>(ck.config.bos_id), ck.config.vocab_size,
                                   candidates, ref_fn ? &*ref_fn : nullptr, chunk_progress, where);
  return run;
}

}  // namespace ctscope
