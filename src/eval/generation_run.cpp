#include "eval/generation_run.hpp"

#include <cmath>

#include "ctfile/ct_weights.hpp"
#include "runtime/generate.hpp"
#include "runtime/llama_model.hpp"
#include "runtime/sampler.hpp"
#include "text/token_ids.hpp"
#include "util/error.hpp"

namespace ctscope {

namespace {

std::unique_ptr<Tokenizer> tokenizer_for(const Checkpoint& ck, const GenerationRequest& r) {
  const auto path = r.tokenizer.empty() ? std::nullopt : std::optional<std::filesystem::path>(r.tokenizer);
  if (!r.prompt_ids || r.text_out || path) return open_tokenizer(ck, path);
  try {
    return open_tokenizer(ck, std::nullopt);
  } catch (const Error&) {
    return nullptr;  // ids in, ids out: a tokenizer only adds text when there is one
  }
}

}  // namespace

GenerationRun prepare_generation(const GenerationRequest& r) {
  if (!(r.temperature >= 0 && r.temperature < INFINITY) || !(r.top_p >= 0 && r.top_p <= 1))
    throw Error("generate: the temperature must be finite and >= 0, and top-p in [0, 1]");
  GenerationRun run;
  run.checkpoint = ctfile::open_for_inference(r.model);
  run.weights = std::make_shared<const LlamaWeights>(ctfile::load_inference_weights(run.checkpoint));
  run.tokenizer = tokenizer_for(run.checkpoint, r);
  if (r.prompt_ids) {
    run.ids = *r.prompt_ids;
    check_token_ids(run.ids, run.checkpoint.config.vocab_size, r.prompt_ids_source);
  } else {
    run.ids = run.tokenizer->encode(r.prompt, /*add_bos=*/true);
  }
  run.total = generation_length(run.weights->config, run.ids.size(), r.n_new, r.model);
  run.temperature = r.temperature;
  run.top_p = r.top_p;
  run.seed = r.seed;
  return run;
}

size_t GenerationRun::run(const std::function<void(size_t)>& emit) {
  // The cache holds every position but the last, whose logits are not needed.
  LlamaModel model(weights, static_cast<int64_t>(std::max<size_t>(total - 1, 1)));
  Sampler sampler(temperature, top_p, seed);
  return generate(model, sampler, ids, total, static_cast<int32_t>(checkpoint.config.bos_id),
                  static_cast<int32_t>(checkpoint.config.eos_id), emit);
}

std::string GenerationRun::text() const {
  std::string out;
  if (tokenizer)
    for (size_t i = 1; i < ids.size(); ++i) out += tokenizer->decode(ids[i - 1], ids[i]);
  return out;
}

}  // namespace ctscope
