// Autoregressive generation as llama2.c run.c does it: feed what the cache has
// not seen, sample the next token, stop at BOS/EOS or after `total` tokens.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/llama_model.hpp"
#include "runtime/sampler.hpp"

namespace ctscope {

// How many tokens a generation holds: the prompt plus `steps` positions
// counted from the start like run.c's steps (at least the prompt), within the
// model's context (LlamaModel::context_of). Error naming `where` when the
// prompt alone does not fit or steps < 1. The model needs total - 1 positions.
size_t generation_length(const ModelConfig& c, size_t prompt_tokens, int64_t steps, const std::string& where);

// Extends `ids` (the prompt, BOS first; the model's cache empty) to at most
// `total` tokens; on_token(i) after each new token ids[i]. The BOS or EOS that
// ends a sequence is not appended. Returns the number of tokens generated.
size_t generate(LlamaModel& model, Sampler& sampler, std::vector<int32_t>& ids, size_t total, int32_t bos, int32_t eos,
                const std::function<void(size_t)>& on_token = {});

}  // namespace ctscope
