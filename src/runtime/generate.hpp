// Autoregressive generation as llama2.c run.c does it: feed what the cache has
// not seen, sample the next token, stop at BOS/EOS or after `total` tokens;
// -n counts new tokens, as llama.cpp's does.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/llama_model.hpp"
#include "runtime/sampler.hpp"

namespace ctscope {

// How many tokens a generation holds: the prompt plus n_new new tokens, as
// llama.cpp's -n counts (new tokens only). Error naming `where` when n_new < 1
// or when they do not fit the model's context (LlamaModel::context_of): never a
// silent cut. The model needs total - 1 positions (the last token is not fed).
size_t generation_length(const ModelConfig& c, size_t prompt_tokens, int64_t n_new, const std::string& where);

// Extends `ids` (the prompt, BOS first; the model's cache empty) to at most
// `total` tokens; on_token(i) after each new token ids[i]. The BOS or EOS that
// ends a sequence is not appended. Returns the number of tokens generated.
size_t generate(LlamaModel& model, Sampler& sampler, std::vector<int32_t>& ids, size_t total, int32_t bos, int32_t eos,
                const std::function<void(size_t)>& on_token = {});

}  // namespace ctscope
