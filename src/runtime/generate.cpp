#include "runtime/generate.hpp"

#include <algorithm>
#include <span>

#include "util/error.hpp"
#include "util/format.hpp"

namespace ctscope {

size_t generation_length(const ModelConfig& c, size_t prompt_tokens, int64_t n_new, const std::string& where) {
  if (n_new < 1) throw Error(fmt::format("-n: {} must be at least 1 (the number of new tokens)", n_new));
  const int64_t context = LlamaModel::context_of(c), prompt = static_cast<int64_t>(prompt_tokens);
  if (prompt > context) fail(where, "prompt of {} tokens is longer than the model's context of {}", prompt, context);
  // The last new token is never fed back: prompt + n - 1 positions. Compared
  // as n > context + 1 - prompt so that a huge n cannot overflow.
  if (n_new > context + 1 - prompt)
    fail(where, "-n {}: the prompt ({}) and {} new tokens do not fit the model's context of {} (at most -n {})", n_new,
         plural(prompt, "token"), n_new, context, context + 1 - prompt);
  return static_cast<size_t>(prompt + n_new);
}

size_t generate(LlamaModel& model, Sampler& sampler, std::vector<int32_t>& ids, size_t total, int32_t bos, int32_t eos,
                const std::function<void(size_t)>& on_token) {
  size_t fed = 0;  // tokens already in the cache
  size_t generated = 0;
  while (ids.size() < total) {
    const auto logits = model.forward(std::span(ids.data() + fed, ids.size() - fed));
    fed = ids.size();
    const int32_t next = sampler.sample(logits);
    if (next == bos || next == eos) break;  // the model ends the sequence
    ids.push_back(next);
    ++generated;
    if (on_token) on_token(ids.size() - 1);
  }
  return generated;
}

}  // namespace ctscope
