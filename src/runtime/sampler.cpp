#include "runtime/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ctscope {

Sampler::Sampler(float temperature, float top_p, uint64_t seed)
    : temperature_(temperature), top_p_(top_p), state_(seed ? seed : 0x9E3779B97F4A7C15ull) {}

float Sampler::random_f32() {  // xorshift*, as run.c
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  const auto r = static_cast<uint32_t>((state_ * 0x2545F4914F6CDD1Dull) >> 32);
  return static_cast<float>(r >> 8) / 16777216.0f;
}

int32_t Sampler::sample(std::span<const float> logits) {
  const auto n = logits.size();
  if (temperature_ <= 0) return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  probs_.resize(n);
  const float mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += probs_[i] = std::exp((logits[i] - mx) / temperature_);
  for (auto& p : probs_) p = static_cast<float>(p / sum);
  const float coin = random_f32();
  if (top_p_ <= 0 || top_p_ >= 1) {
    float cdf = 0;
    for (size_t i = 0; i < n; ++i) {
      cdf += probs_[i];
      if (coin < cdf) return static_cast<int32_t>(i);
    }
    return static_cast<int32_t>(n - 1);
  }
  // Top-p: the smallest most-probable set whose mass exceeds top_p.
  order_.resize(n);
  std::iota(order_.begin(), order_.end(), 0);
  std::sort(order_.begin(), order_.end(), [&](int32_t a, int32_t b) {
    return probs_[static_cast<size_t>(a)] > probs_[static_cast<size_t>(b)];
  });
  float mass = 0;
  size_t last = n - 1;
  for (size_t i = 0; i < n; ++i) {
    mass += probs_[static_cast<size_t>(order_[i])];
    if (mass > top_p_) {
      last = i;
      break;
    }
  }
  const float r = coin * mass;
  float cdf = 0;
  for (size_t i = 0; i <= last; ++i) {
    cdf += probs_[static_cast<size_t>(order_[i])];
    if (r < cdf) return order_[i];
  }
  return order_[last];
}

}  // namespace ctscope
