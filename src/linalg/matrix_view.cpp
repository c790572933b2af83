#include "linalg/matrix_view.hpp"

#include "util/error.hpp"

namespace ctscope::linalg {

void check_matrix_view(const MatrixView& W) {
  const auto& tr = traits(W.dtype);
  if (!tr.to_f32) throw Error(fmt::format("matrix of dtype {} cannot be analyzed", tr.name));
  if (W.n < 1 || W.d < 1 || !W.data) throw Error(fmt::format("empty matrix {} x {}", W.n, W.d));
  if (W.d % tr.block_elems != 0)
    throw Error(fmt::format("{} matrix rows of {} elements are not whole blocks", tr.name, W.d));
}

size_t elem_offset_bytes(DType t, int64_t elems) {
  const auto& tr = traits(t);
  return static_cast<size_t>(elems / tr.block_elems) * tr.block_bytes;
}

}  // namespace ctscope::linalg
