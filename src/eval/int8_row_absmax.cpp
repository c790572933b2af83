#include "eval/int8_row_absmax.hpp"

#include <algorithm>
#include <cmath>

namespace ctscope {

QuantizedRows int8_row_absmax(const std::vector<float>& W, int64_t n, int64_t d, double* sse) {
  QuantizedRows out;
  out.W_hat.resize(W.size());
  double ss = 0, sum = 0;
  for (int64_t r = 0; r < n; ++r) {
    const float* w = W.data() + r * d;
    float amax = 0;
    for (int64_t j = 0; j < d; ++j) amax = std::max(amax, std::abs(w[j]));
    const float scale = amax / 127.0f;
    for (int64_t j = 0; j < d; ++j) {
      const float q = scale > 0 ? std::nearbyint(w[j] / scale) * scale : 0.0f;
      out.W_hat[static_cast<size_t>(r * d + j)] = q;
      ss += double(w[j]) * w[j];
      sum += w[j];
      *sse += (double(w[j]) - q) * (double(w[j]) - q);
    }
  }
  out.sst = ss - sum * sum / static_cast<double>(W.size());
  out.stored_params = static_cast<uint64_t>(n * d + n);
  out.stored_bytes = static_cast<uint64_t>(n * d + 4 * n);
  return out;
}

}  // namespace ctscope
