#include "linalg/row_panels.hpp"

#include <algorithm>
#include <vector>

namespace ctscope::linalg {

void for_each_row_panel(const MatrixView& W, int64_t max_rows,
                        const std::function<void(int64_t, int64_t, const float*)>& fn) {
  check_matrix_view(W);
  const int64_t rb = std::max<int64_t>(1, std::min(max_rows, W.n));
  // Aligned float data is used in place (panels are views); anything else is converted.
  const bool f32 = W.dtype == DType::F32 && reinterpret_cast<uintptr_t>(W.data) % alignof(float) == 0;
  std::vector<float> P(f32 ? 0 : static_cast<size_t>(rb * W.d));
  const auto* base = static_cast<const uint8_t*>(W.data);
  for (int64_t r0 = 0; r0 < W.n; r0 += rb) {
    const int64_t rows = std::min(rb, W.n - r0);
    const uint8_t* src = base + elem_offset_bytes(W.dtype, r0 * W.d);
    if (f32) {
      fn(r0, rows, reinterpret_cast<const float*>(src));
      continue;
    }
    convert_to_f32(W.dtype, src, static_cast<size_t>(rows * W.d), P.data());
    fn(r0, rows, P.data());
  }
}

}  // namespace ctscope::linalg
