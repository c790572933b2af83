// Largest eigenvalues of a symmetric PSD matrix M (m x m, double): the sum of
// the K largest for several K (r2_svd), plus the largest eigenvalue of a
// low-rank-corrected Mc = M + gamma u u^T - u w^T - w u^T (the centered Gram,
// for stable_rank). Small m: LAPACK. Large m: block Lanczos with full
// reorthogonalization whose start block holds u, so one Krylov subspace serves
// M and Mc; Ritz sums only grow with the subspace (Ky Fan), and iteration stops
// when the estimated remaining error of every sum is below tol_abs.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace ctscope::linalg {

struct Centering {
  std::vector<double> u, w;  // w may be empty (treated as 0)
  double gamma = 0;
};

struct TopEigen {
  std::vector<double> top_sums;    // per requested K: sum of the K largest eigenvalues of M
  std::vector<double> top_sums_c;  // per TopEigenOptions::Ks_centered: the same for Mc
  double lmax_c = 0;             // largest eigenvalue of Mc
  double flops = 0;
  bool exact = false;            // LAPACK path (small m, or Lanczos did not settle)
  int subspace = 0;              // Krylov dimension used
};

struct TopEigenOptions {
  int64_t exact_below = 512;  // m <= this: LAPACK directly
  int block = 0;              // 0: 16
  double tol_abs = 0;         // on each top sum (estimated remaining error)
  double tol_rel_lmax = 1e-6; // on the last step of lambda_max(Mc)
  // Also the sums of the K largest eigenvalues of Mc for these K (the affine
  // bound of a fit with an offset row), to the same tol_abs.
  std::vector<int> Ks_centered;
};

// M: m x m row-major in its first m * m entries, upper triangle used. make_Mc builds Mc explicitly (only
// called on the exact path). work: float scratch of m*m, reused across calls.
TopEigen top_eigen(const std::vector<double>& M, const std::function<std::vector<double>()>& make_Mc, int64_t m,
                   const std::vector<int>& Ks, const Centering& c, const TopEigenOptions& opt, std::vector<float>& work);

}  // namespace ctscope::linalg
