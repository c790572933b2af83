// A matrix as stored in a checkpoint, read in place: the kernels of linalg/
// stream it in panels and never hold a full float copy.
#pragma once
#include <cstddef>
#include <cstdint>

#include "io/dtype.hpp"

namespace ctscope::linalg {

// n rows of d elements of `dtype`, row-major and contiguous.
struct MatrixView {
  DType dtype = DType::F32;
  const void* data = nullptr;
  int64_t n = 0, d = 0;
};

// Throws Error unless W can be read as float32: a convertible dtype, at least
// one row and column, and rows of whole blocks.
void check_matrix_view(const MatrixView& W);

// Bytes taken by the first `elems` elements of dtype t (a whole number of blocks).
size_t elem_offset_bytes(DType t, int64_t elems);

}  // namespace ctscope::linalg
