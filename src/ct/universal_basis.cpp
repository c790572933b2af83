#include "ct/universal_basis.hpp"

#include <algorithm>

#include "linalg/gram.hpp"
#include "linalg/sym_eigen.hpp"
#include "util/error.hpp"

namespace ctscope::ct {

using linalg::MatrixView;

UniversalAccumulator::UniversalAccumulator(int64_t d)
    : d_(d), cov_(static_cast<size_t>(d) * d, 0.0), col_sum_(static_cast<size_t>(d), 0.0) {
  if (d < 1) throw Error(fmt::format("universal basis: row length {} must be positive", d));
}

bool UniversalAccumulator::add(const MatrixView& W) {
  if (W.d != d_) throw Error(fmt::format("universal basis for d={}: matrix rows have {}", d_, W.d));
  linalg::GramPass g = linalg::gram_pass(W, /*row_gram=*/true);
  // Not pooled (analyze reports such a matrix as not analyzable): NaN/Inf.
  if (!g.finite) return false;
  // Pooled in the weights' own units, whatever scale the pass chose (a power
  // of two: dividing it back is exact, and no float32 matrix's Gram leaves
  // double range), so every matrix weighs what its values say. (One huge
  // matrix then dominates the pool: that is the pooled covariance, as defined.)
  const double nn = static_cast<double>(W.n), u = 1 / g.scale, u2 = u * u;
  for (int64_t i = 0; i < d_; ++i)
    for (int64_t j = 0; j < d_; ++j)
      cov_[i * d_ + j] += (g.G[std::min(i, j) * d_ + std::max(i, j)] - g.colsum[i] * g.colsum[j] / nn) * u2;
  for (int64_t j = 0; j < d_; ++j) col_sum_[j] += g.colsum[j] * u;
  rows_ += W.n;
  return true;
}

FactoredBasis UniversalAccumulator::basis(int K) const {
  if (rows_ == 0) throw Error(fmt::format("universal basis for d={}: no matrices were added", d_));
  if (K < 1 || K > d_) throw Error(fmt::format("basis universal K={} d={}: K must be in 1..d", K, d_));
  std::vector<double> offset(col_sum_);
  for (double& v : offset) v /= static_cast<double>(rows_);
  return factor_basis(BasisKind::Universal, K, d_, linalg::top_eigenvectors(cov_, d_, K), std::move(offset));
}

}  // namespace ctscope::ct
