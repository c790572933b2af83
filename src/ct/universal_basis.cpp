#include "ct/universal_basis.hpp"

#include <algorithm>

#include "linalg/gram.hpp"
#include "linalg/sym_eigen.hpp"
#include "util/error.hpp"

namespace ctscope::ct {

using linalg::MatrixView;

std::optional<UniversalShare> universal_share(const MatrixView& W) {
  linalg::GramPass g = linalg::gram_pass(W, /*row_gram=*/true);
  // Not pooled (analyze reports such a matrix as not analyzable): NaN/Inf.
  if (!g.finite) return std::nullopt;
  // Pooled in the weights' own units, whatever scale the pass chose (a power
  // of two: dividing it back is exact, and no float32 matrix's Gram leaves
  // double range), so every matrix weighs what its values say. (One huge
  // matrix then dominates the pool: that is the pooled covariance, as defined.)
  const int64_t d = W.d;
  const double nn = static_cast<double>(W.n), u = 1 / g.scale, u2 = u * u;
  UniversalShare s{d, W.n, std::vector<double>(static_cast<size_t>(d) * d), std::vector<double>(d)};
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j)
      s.cov[i * d + j] = (g.G[std::min(i, j) * d + std::max(i, j)] - g.colsum[i] * g.colsum[j] / nn) * u2;
  for (int64_t j = 0; j < d; ++j) s.col_sum[j] = g.colsum[j] * u;
  return s;
}

UniversalAccumulator::UniversalAccumulator(int64_t d)
    : totals_{d, 0, std::vector<double>(static_cast<size_t>(d) * d, 0.0), std::vector<double>(static_cast<size_t>(d), 0.0)} {
  if (d < 1) throw Error(fmt::format("universal basis: row length {} must be positive", d));
}

UniversalAccumulator UniversalAccumulator::from_totals(UniversalShare totals) {
  UniversalAccumulator a(totals.d);
  if (totals.cov.size() != a.totals_.cov.size() || totals.col_sum.size() != a.totals_.col_sum.size())
    throw Error(fmt::format("universal basis for d={}: pooled sums of the wrong size", totals.d));
  a.totals_ = std::move(totals);
  return a;
}

bool UniversalAccumulator::add(const MatrixView& W) {
  if (W.d != d()) throw Error(fmt::format("universal basis for d={}: matrix rows have {}", d(), W.d));
  auto share = universal_share(W);
  if (share) add(*share);
  return share.has_value();
}

void UniversalAccumulator::add(const UniversalShare& share) {
  if (share.d != d()) throw Error(fmt::format("universal basis for d={}: matrix rows have {}", d(), share.d));
  for (size_t k = 0; k < totals_.cov.size(); ++k) totals_.cov[k] += share.cov[k];
  for (size_t k = 0; k < totals_.col_sum.size(); ++k) totals_.col_sum[k] += share.col_sum[k];
  totals_.rows += share.rows;
}

FactoredBasis UniversalAccumulator::basis(int K) const {
  const int64_t d_ = d();
  if (totals_.rows == 0) throw Error(fmt::format("universal basis for d={}: no matrices were added", d_));
  if (K < 1 || K > d_) throw Error(fmt::format("basis universal K={} d={}: K must be in 1..d", K, d_));
  std::vector<double> offset(totals_.col_sum);
  for (double& v : offset) v /= static_cast<double>(totals_.rows);
  return factor_basis(BasisKind::Universal, K, d_, linalg::top_eigenvectors(totals_.cov, d_, K), std::move(offset));
}

}  // namespace ctscope::ct
