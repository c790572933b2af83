#include "runtime/generate.hpp"

#include <span>

namespace ctscope {

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
