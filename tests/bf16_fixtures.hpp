// Random BF16 matrices for the Gram kernel tests (test_ct_amx, test_gram_bf16dot).
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "io/dtype.hpp"

namespace ctscope::test_support {

// Random BF16 bits with a column bias (so column sums matter), every 17th row zero.
inline std::vector<uint16_t> random_bf16(int64_t n, int64_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> bias(static_cast<size_t>(d));
  for (auto& b : bias) b = 0.02f * nd(rng);
  std::vector<uint16_t> W(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) W[i * d + j] = i % 17 == 5 ? uint16_t{0} : f32_to_bf16(bias[j] + 0.05f * nd(rng));
  return W;
}

}  // namespace ctscope::test_support
