// Next-token choice as llama2.c run.c does it: argmax at temperature 0, else
// softmax(logits / T) sampled whole or from the top-p nucleus, with a seeded
// xorshift generator so runs are reproducible.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace ctscope {

class Sampler {
 public:
  Sampler(float temperature, float top_p, uint64_t seed);
  int32_t sample(std::span<const float> logits);

 private:
  float random_f32();
  float temperature_, top_p_;
  uint64_t state_;
  std::vector<float> probs_;
  std::vector<int32_t> order_;
};

}  // namespace ctscope
