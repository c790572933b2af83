// The per-matrix CT numbers of docs/ct-analysis.md, computed in one streaming
// pass over a matrix in its stored dtype (linalg/gram.hpp: never a full float
// copy): the smaller Gram matrix, the column sums and the projections W Q on
// every requested basis; everything else follows from those. Sums, traces and
// small factorizations are double.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ct/basis.hpp"
#include "linalg/matrix_view.hpp"

namespace ctscope::ct {

// An r2 above its bound by at most this much is round-off (the float32 Gram,
// and r2_svd's Lanczos target svd_tol below) and is clamped to the bound; a fit
// above its bound by more is a bug. Negative eigenvalues of the centered Gram
// within kSpectrumRoundoff of its trace are likewise shown as 0.
inline constexpr double kBoundRoundoff = 2e-5;
inline constexpr double kSpectrumRoundoff = 1e-6;

struct FitResult {
  int K = 0;
  BasisKind basis = BasisKind::Gaussian;
  bool fitted = true;    // false: d < K, not fitted at this K (model_analysis keeps the slot)
  bool trivial = false;  // K >= d: any basis of rank d fits exactly
  double sse = 0, r2 = 0;
  double r2_svd = 0;     // best any K-dim row basis can do (uncentered, like the fit)
  double r2_bound = 0;   // the optimum of this fit's class: r2_svd (linear), centered top-K (affine: universal)
  double r2_null = 0;    // K / d
  double amplitude_pr = 0;
  double amplitude_pr_null = 0;  // white noise through the same basis (FactoredBasis::amplitude_pr_null)
  int amplitude_n95 = 0;
  double amplitude_pr_ratio() const { return amplitude_pr_null > 0 ? amplitude_pr / amplitude_pr_null : 0.0; }
};

// Whether a basis kind fits rows in an affine subspace (a shared offset row): its bound is the centered one.
inline bool is_affine(BasisKind k) { return k == BasisKind::Universal; }

struct Spectrum {
  std::vector<double> eigenvalues;  // of the centered Gram, descending (lambda_i = sigma_i^2)
  int weight_n95 = 0;
  double weight_pr_sv = 0;          // (sum sigma)^2 / sum sigma^2
};

struct MatrixResult {
  int64_t n = 0, d = 0;
  double ss = 0, sum = 0, sst = 0;  // sum W^2, sum W, SS - nd mean^2
  double weight_pr = 0;             // (tr C)^2 / tr C^2, C = centered Gram
  double stable_rank = 0;           // tr C / lambda_max(C)
  std::vector<FitResult> fits;      // one per requested basis, in request order
  std::optional<Spectrum> spectrum; // with MatrixAnalysisOptions::spectrum
  std::string error;                // non-empty: not analyzable (e.g. "contains NaN/Inf"); numbers invalid
  double flops = 0;                 // arithmetic done, for the benchmark's GFLOP/s
  // Diagnostics: Krylov dimension of the top-eigenvalue solve (0: LAPACK on the
  // whole Gram) and seconds spent per stage.
  int krylov_dim = 0;
  double gram_s = 0, eigen_s = 0, fit_s = 0;
};

struct MatrixAnalysisOptions {
  std::vector<const FactoredBasis*> bases;  // fitted in this order; each basis->d must equal the matrix's d
  bool svd_baseline = true;                 // compute r2_svd and r2_bound for every basis
  bool spectrum = false;                    // full eigen-decomposition of the centered Gram
  // Target accuracy of r2_svd (absolute; the spec allows 1e-4). Matrices with
  // min(n, d) > 512 get it from block Lanczos, which stops when its estimated
  // remaining error is below this; smaller ones are exact (LAPACK).
  double svd_tol = 1e-5;
};

MatrixResult analyze_matrix(const linalg::MatrixView& W, const MatrixAnalysisOptions& opt);

}  // namespace ctscope::ct
