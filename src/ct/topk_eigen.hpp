// Largest eigenvalues of a symmetric PSD matrix M (m x m, double): the sum of
// the K largest for several K (r2_svd), plus the largest eigenvalue of a
// low-rank-corrected Mc = M + gamma u u^T - u w^T - w u^T (the centered Gram,
// for stable_rank). Small m: LAPACK. Large m: block Lanczos with full
// reorthogonalization whose start block holds u, so one Krylov subspace serves
// M and Mc; Ritz sums only grow with the subspace (Ky Fan), and iteration stops
// when every sum changes by less than tol_abs. Internal to ct/.
#pragma once
#include <cstdint>
#include <vector>

namespace ctscope::ct {

struct Centering {
  std::vector<double> u, w;  // w may be empty (treated as 0)
  double gamma = 0;
};

struct TopEigen {
  std::vector<double> top_sums;  // per requested K: sum of the K largest eigenvalues of M
  double lmax_c = 0;             // largest eigenvalue of Mc
  double flops = 0;
  bool exact = false;            // LAPACK path (small m, or Lanczos did not settle)
  int subspace = 0;              // Krylov dimension used
};

struct TopEigenOptions {
  int64_t exact_below = 512;  // m <= this: LAPACK directly
  int block = 32;
  double tol_abs = 0;         // on each top sum
  double tol_rel_lmax = 1e-8;
};

// Mc_explicit (m x m) is used on the exact path only; M must be fully symmetric.
TopEigen top_eigen(const std::vector<double>& M, const std::vector<double>& Mc_explicit, int64_t m,
                   const std::vector<int>& Ks, const Centering& c, const TopEigenOptions& opt);

// All eigenvalues of symmetric A (m x m), descending (LAPACK dsyevd).
std::vector<double> sym_eigvals_desc(std::vector<double> A, int64_t m);

}  // namespace ctscope::ct
