// Random BF16 matrices for the Gram kernel tests (test_ct_amx, test_gram_bf16dot),
// and the check both projection kernels share.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
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

// Y (rows x ycols, stride ldy) = W[:, k0 : k0 + k] Q[k0 : k0 + k, :] (W: rows x d
// BF16, Q: d x kq float) against the double sums, to 1e-6 of sum |x q| per
// entry, and zero in the columns past kq.
inline void expect_projection(const std::vector<uint16_t>& W, int64_t rows, int64_t d, const std::vector<float>& Q,
                              int kq, int64_t k0, int64_t k, const std::vector<float>& Y, int64_t ldy, int64_t ycols) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t c = 0; c < ycols; ++c) {
      double ref = 0, scale = 0;
      for (int64_t j = k0; j < k0 + k && c < kq; ++j) {
        const double x = bf16_to_f32(W[i * d + j]), q = Q[j * kq + c];
        ref += x * q;
        scale += std::abs(x * q);
      }
      ASSERT_NEAR(Y[i * ldy + c], ref, 1e-6 * scale + 1e-30) << "k0=" << k0 << " row " << i << " col " << c;
    }
}

}  // namespace ctscope::test_support
