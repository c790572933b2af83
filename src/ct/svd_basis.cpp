#include "ct/svd_basis.hpp"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>

#include "linalg/gram.hpp"
#include "linalg/row_panels.hpp"
#include "linalg/sym_eigen.hpp"
#include "util/error.hpp"

namespace ctscope::ct {

using linalg::MatrixView;

namespace {

// Rows k >= have of B (K x d) become orthonormal to all rows before them:
// deterministic pseudo-random directions, Gram-Schmidt twice. Used when K
// exceeds the number of singular vectors (K > n) or the rank: the fit is then
// exact whatever the extra directions are.
void complete_orthonormal(std::vector<double>& B, int have, int K, int64_t d) {
  uint64_t state = 0x9e3779b97f4a7c15ull;
  for (int k = have; k < K; ++k) {
    double* b = B.data() + static_cast<size_t>(k) * d;
    for (int tries = 0; tries < 8; ++tries) {
      for (int64_t j = 0; j < d; ++j) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        b[j] = static_cast<double>(state >> 11) / 9007199254740992.0 - 0.5;
      }
      for (int pass = 0; pass < 2; ++pass)
        for (int i = 0; i < k; ++i) {
          const double* q = B.data() + static_cast<size_t>(i) * d;
          const double dot = cblas_ddot(static_cast<int>(d), q, 1, b, 1);
          cblas_daxpy(static_cast<int>(d), -dot, q, 1, b, 1);
        }
      const double nrm = cblas_dnrm2(static_cast<int>(d), b, 1);
      if (nrm > 1e-6) {
        cblas_dscal(static_cast<int>(d), 1.0 / nrm, b, 1);
        break;
      }
    }
  }
}

}  // namespace

FactoredBasis svd_basis(const MatrixView& W, int K) {
  const int64_t n = W.n, d = W.d;
  if (K < 1 || K > d) throw Error(fmt::format("basis svd K={} d={}: K must be in 1..d", K, d));
  const bool row_gram = n >= d;
  linalg::GramPass g = linalg::gram_pass(W, row_gram);
  if (!g.finite) throw Error("svd basis: matrix contains NaN or Inf");
  std::vector<double> B;
  if (row_gram) {
    B = linalg::top_eigenvectors(std::move(g.G), d, K);
  } else {
    // Right singular vectors from the left ones: v_k = W^T u_k / |W^T u_k|.
    const int Kn = static_cast<int>(std::min<int64_t>(K, n));      // a n x d matrix has n right singular vectors
    const std::vector<double> U = linalg::top_eigenvectors(std::move(g.G), n, Kn);  // Kn x n
    B.assign(static_cast<size_t>(K) * d, 0.0);
    std::vector<double> Pd;
    linalg::for_each_row_panel(W, 512, [&](int64_t r0, int64_t rows, const float* P) {
      Pd.assign(P, P + rows * d);
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Kn, static_cast<int>(d), static_cast<int>(rows), 1.0,
                  U.data() + r0, static_cast<int>(n), Pd.data(), static_cast<int>(d), 1.0, B.data(), static_cast<int>(d));
    });
    int have = 0;  // leading directions with a nonzero singular value
    for (; have < Kn; ++have) {
      const double nrm = cblas_dnrm2(static_cast<int>(d), B.data() + have * d, 1);
      if (!(nrm > 1e-12)) break;
      cblas_dscal(static_cast<int>(d), 1.0 / nrm, B.data() + have * d, 1);
    }
    complete_orthonormal(B, have, K, d);
  }
  return factor_basis(BasisKind::Svd, K, d, std::move(B));
}

}  // namespace ctscope::ct
