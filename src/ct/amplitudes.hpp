// Amplitudes of a matrix in a basis, and the matrix rebuilt from them: what
// `compress` stores and `eval-compression` runs. Rows are fitted
// independently, one row panel at a time.
#pragma once
#include <cstdint>
#include <vector>

#include "ct/basis.hpp"
#include "linalg/matrix_view.hpp"

namespace ctscope::ct {

// A (n x K, row-major float) of W in basis b: A = (W - 1 offset^T) B^T (B B^T)^-1.
void fit_amplitudes(const linalg::MatrixView& W, const FactoredBasis& b, float* A);
// W_hat = A B (+ offset) as float32 (n x d).
void reconstruct(const float* A, int64_t n, const FactoredBasis& b, float* W_hat);

// One matrix fitted in one basis: amplitudes A (n x K) and the fit's sums.
struct RowFit {
  std::vector<float> A;
  double sse = 0, sst = 0;
};
// Converts W to float once; writes W_hat = A B (+ offset) into *W_hat when given.
RowFit fit_rows(const linalg::MatrixView& W, const FactoredBasis& b, std::vector<float>* W_hat = nullptr);

}  // namespace ctscope::ct
