// Per-matrix SVD basis: the top-K right singular vectors of W (uncentered).
#include <cblas.h>
#include <lapacke.h>

#include <cmath>

#include "ct/gram.hpp"
#include "ct/matrix_analysis.hpp"
#include "util/error.hpp"

namespace ctscope::ct {

// Top-K eigenvectors of symmetric G (m x m, row-major, upper triangle used),
// descending, as K x m rows.
std::vector<double> top_eigenvectors(std::vector<double> G, int64_t m, int K) {
  const auto mi = static_cast<lapack_int>(m);
  std::vector<double> w(static_cast<size_t>(m)), Z(static_cast<size_t>(m) * K);
  std::vector<lapack_int> isuppz(2 * static_cast<size_t>(K));
  lapack_int found = 0;
  if (LAPACKE_dsyevr(LAPACK_COL_MAJOR, 'V', 'I', 'L',  // row-major upper = column-major lower
                     mi, G.data(), mi, 0, 0, mi - K + 1, mi, 0.0, &found, w.data(),
                     Z.data(), mi, isuppz.data()) != 0 || found != K)
    throw Error("symmetric eigensolver failed to converge");
  std::vector<double> B(static_cast<size_t>(K) * m);
  for (int k = 0; k < K; ++k)  // ascending -> descending
    for (int64_t j = 0; j < m; ++j) B[k * m + j] = Z[static_cast<size_t>(K - 1 - k) * m + j];
  return B;
}

FactoredBasis svd_basis(const MatrixView& W, int K) {
  const int64_t n = W.n, d = W.d;
  if (K < 1 || K > d) throw Error(fmt::format("basis svd K={} d={}: K must be in 1..d", K, d));
  const bool row_gram = n >= d;
  if (!row_gram && K > n)
    throw Error(fmt::format("basis svd K={} d={}: a {} x {} matrix has at most {} singular vectors", K, d, n, d, n));
  GramPass g = gram_pass(W, row_gram);
  if (!g.finite) throw Error("svd basis: matrix contains NaN or Inf");
  std::vector<double> B;
  if (row_gram) {
    B = top_eigenvectors(std::move(g.G), d, K);
  } else {
    // Right singular vectors from the left ones: v_k = W^T u_k / |W^T u_k|.
    const std::vector<double> U = top_eigenvectors(std::move(g.G), n, K);  // K x n
    B.assign(static_cast<size_t>(K) * d, 0.0);
    std::vector<double> Pd;
    for_each_row_panel(W, 512, [&](int64_t r0, int64_t rows, const float* P) {
      Pd.assign(P, P + rows * d);
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, static_cast<int>(d), static_cast<int>(rows), 1.0,
                  U.data() + r0, static_cast<int>(n), Pd.data(), static_cast<int>(d), 1.0, B.data(), static_cast<int>(d));
    });
    for (int k = 0; k < K; ++k) {
      const double nrm = cblas_dnrm2(static_cast<int>(d), B.data() + k * d, 1);
      if (!(nrm > 0)) throw Error(fmt::format("basis svd K={} d={}: matrix rank is below K", K, d));
      cblas_dscal(static_cast<int>(d), 1.0 / nrm, B.data() + k * d, 1);
    }
  }
  return factor_basis(BasisKind::Svd, K, d, std::move(B));
}

}  // namespace ctscope::ct
