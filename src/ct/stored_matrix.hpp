// A checkpoint tensor as a matrix view over its mapped bytes (no copy).
#pragma once
#include "io/checkpoint.hpp"
#include "linalg/matrix_view.hpp"

namespace ctscope::ct {

inline linalg::MatrixView stored_matrix(const Checkpoint& ck, const TensorInfo& t) {
  return {t.dtype, ck.bytes(t).data(), t.rows(), t.cols()};
}

}  // namespace ctscope::ct
