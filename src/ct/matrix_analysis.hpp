// The per-matrix CT numbers of ../shared/spec/ct-analysis.md, computed in one
// streaming pass over a matrix in its stored dtype: row panels are converted to
// float32 on the fly (never a full float copy), a Gram matrix is accumulated
// with BLAS SYRK, and everything else follows from the Gram (or from W Q for
// matrices wider than tall). Sums, traces and small factorizations are double.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ct/basis.hpp"
#include "io/dtype.hpp"

namespace ctscope::ct {

// A matrix as stored: n rows of d elements of `dtype` (row-major, contiguous).
struct MatrixView {
  DType dtype = DType::F32;
  const void* data = nullptr;
  int64_t n = 0, d = 0;
};

struct FitResult {
  int K = 0;
  BasisKind basis = BasisKind::Gaussian;
  double sse = 0, r2 = 0;
  double r2_svd = 0;   // best any K-dim row basis can do (uncentered, like the fit)
  double r2_null = 0;  // K / d
  double amplitude_pr = 0;
  int amplitude_n95 = 0;
};

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
  std::optional<Spectrum> spectrum; // with Options::spectrum
  std::string error;                // non-empty: not analyzable (e.g. "contains NaN/Inf"); numbers invalid
  double flops = 0;                 // arithmetic done, for the benchmark's GFLOP/s
  // Diagnostics: Krylov dimension of the top-eigenvalue solve (0: LAPACK on the
  // whole Gram) and seconds spent per stage.
  int krylov_dim = 0;
  double gram_s = 0, eigen_s = 0, fit_s = 0;
};

struct Options {
  std::vector<const FactoredBasis*> bases;  // fitted in this order; each basis->d must equal the matrix's d
  bool svd_baseline = true;                 // compute r2_svd for every K in `bases`
  bool spectrum = false;                    // full eigen-decomposition of the centered Gram
};

MatrixResult analyze_matrix(const MatrixView& W, const Options& opt);

// Amplitudes A (n x K, row-major float) of W in basis b: A = (W - 1 offset^T) B^T (B B^T)^-1.
void fit_amplitudes(const MatrixView& W, const FactoredBasis& b, float* A);
// W_hat = A B (+ offset) as float32 (n x d).
void reconstruct(const float* A, int64_t n, const FactoredBasis& b, float* W_hat);

// Per-matrix SVD basis: top-K right singular vectors of W (uncentered), as a factored basis.
FactoredBasis svd_basis(const MatrixView& W, int K);

// Universal basis: accumulate sum_i Wc_i^T Wc_i and the pooled mean row over many
// matrices with the same d, then take the top-K eigenvectors.
class UniversalAccumulator {
 public:
  explicit UniversalAccumulator(int64_t d);
  void add(const MatrixView& W);
  FactoredBasis basis(int K) const;
  int64_t d() const { return d_; }

 private:
  int64_t d_;
  int64_t rows_ = 0;
  std::vector<double> cov_;      // d x d, sum of per-matrix centered Grams
  std::vector<double> col_sum_;  // d, for the pooled mean row
};

}  // namespace ctscope::ct
