// The universal basis: one basis per row length d, shared by every matrix of
// the run with that d - the top-K eigenvectors of the pooled centered row
// covariance, with the pooled mean row as an offset (an affine fit).
#pragma once
#include <cstdint>
#include <vector>

#include "ct/basis.hpp"
#include "linalg/matrix_view.hpp"

namespace ctscope::ct {

// Accumulates sum_i Wc_i^T Wc_i and the pooled column sums over many matrices
// with the same d, then gives the basis for any K.
class UniversalAccumulator {
 public:
  explicit UniversalAccumulator(int64_t d);
  // False (nothing added) for a matrix with NaN/Inf; Error when its rows
  // are not d long.
  bool add(const linalg::MatrixView& W);
  FactoredBasis basis(int K) const;
  int64_t d() const { return d_; }

 private:
  int64_t d_;
  int64_t rows_ = 0;
  std::vector<double> cov_;      // d x d, sum of per-matrix centered Grams
  std::vector<double> col_sum_;  // d, for the pooled mean row
};

}  // namespace ctscope::ct
