// The universal basis: one basis per row length d, shared by every matrix of
// the run with that d - the top-K eigenvectors of the pooled centered row
// covariance, with the pooled mean row as an offset (an affine fit).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "ct/basis.hpp"
#include "linalg/matrix_view.hpp"

namespace ctscope::ct {

// One matrix's share of the pooled sums: its centered Gram Wc^T Wc (d x d) and
// its column sums; an accumulator's totals have the same form. Kept apart so
// that shares computed elsewhere (MPI ranks, dist/) are added in the run's
// matrix order, which makes the pooled sums the same bits as in one process.
struct UniversalShare {
  int64_t d = 0, rows = 0;
  std::vector<double> cov, col_sum;
};

// The share of W, in the weights' own units; nullopt for a matrix with NaN/Inf
// (not pooled: analyze reports it as not analyzable).
std::optional<UniversalShare> universal_share(const linalg::MatrixView& W);

// Accumulates sum_i Wc_i^T Wc_i and the pooled column sums over many matrices
// with the same d, then gives the basis for any K.
class UniversalAccumulator {
 public:
  explicit UniversalAccumulator(int64_t d);
  // False (nothing added) for a matrix universal_share leaves out; Error when
  // its rows are not d long.
  bool add(const linalg::MatrixView& W);
  void add(const UniversalShare& share);
  FactoredBasis basis(int K) const;
  int64_t d() const { return totals_.d; }
  const UniversalShare& totals() const { return totals_; }
  // An accumulator holding totals made elsewhere (another rank's).
  static UniversalAccumulator from_totals(UniversalShare totals);

 private:
  UniversalShare totals_;
};

}  // namespace ctscope::ct
