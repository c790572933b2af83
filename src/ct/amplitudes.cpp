#include "ct/amplitudes.hpp"

#include <cblas.h>

#include <algorithm>

#include "linalg/row_panels.hpp"
#include "util/error.hpp"

namespace ctscope::ct {

using linalg::for_each_row_panel;
using linalg::MatrixView;

// A = (W - 1 o^T) Q R^-T: project in float (well conditioned, Q orthonormal),
// then the triangular solve in double (R carries the basis's conditioning).
void fit_amplitudes(const MatrixView& W, const FactoredBasis& b, float* A) {
  if (b.d != W.d) throw Error(fmt::format("basis {} K={} has row length {}, matrix rows have {}", basis_name(b.kind), b.K, b.d, W.d));
  const int K = b.K;
  std::vector<double> qo(K, 0.0);
  for (size_t j = 0; j < b.offset.size(); ++j)
    for (int k = 0; k < K; ++k) qo[k] += b.Q[j * K + k] * b.offset[j];
  std::vector<float> Yf;
  std::vector<double> Y;
  for_each_row_panel(W, 1024, [&](int64_t r0, int64_t rows, const float* P) {
    Yf.resize(static_cast<size_t>(rows) * K);
    Y.resize(Yf.size());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), K, static_cast<int>(W.d), 1.f, P,
                static_cast<int>(W.d), b.Qf.data(), K, 0.f, Yf.data(), K);
    for (int64_t i = 0; i < rows; ++i)
      for (int k = 0; k < K; ++k) Y[i * K + k] = static_cast<double>(Yf[i * K + k]) - qo[k];
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasUpper, CblasTrans, CblasNonUnit, static_cast<int>(rows), K, 1.0,
                b.R.data(), K, Y.data(), K);
    std::transform(Y.begin(), Y.end(), A + r0 * K, [](double v) { return static_cast<float>(v); });
  });
}

// W_hat = A B (+ o) in double per row panel: B's rows may be far from
// orthogonal, and float would lose the cancellation between amplitudes.
void reconstruct(const float* A, int64_t n, const FactoredBasis& b, float* W_hat) {
  const int K = b.K;
  const int64_t d = b.d, rb = 256;
  std::vector<double> Ad(static_cast<size_t>(rb) * K), out(static_cast<size_t>(rb * d));
  for (int64_t r0 = 0; r0 < n; r0 += rb) {
    const int64_t rows = std::min(rb, n - r0);
    std::copy(A + r0 * K, A + (r0 + rows) * K, Ad.begin());
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < d; ++j) out[i * d + j] = b.offset.empty() ? 0.0 : b.offset[j];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), static_cast<int>(d), K, 1.0, Ad.data(),
                K, b.B.data(), static_cast<int>(d), 1.0, out.data(), static_cast<int>(d));
    std::transform(out.begin(), out.begin() + rows * d, W_hat + r0 * d, [](double v) { return static_cast<float>(v); });
  }
}

RowFit fit_rows(const MatrixView& W, const FactoredBasis& b, std::vector<float>* W_hat) {
  const auto n = static_cast<size_t>(W.n), d = static_cast<size_t>(W.d);
  RowFit f;
  f.A.resize(n * static_cast<size_t>(b.K));
  if (W_hat) W_hat->resize(n * d);
  // Row panels: memory stays at two float panels whatever the matrix size
  // (rows are fitted independently).
  std::vector<float> local;
  double ss = 0, sum = 0;
  for_each_row_panel(W, 1024, [&](int64_t r0, int64_t rows, const float* P) {
    const MatrixView view{DType::F32, P, rows, W.d};
    float* A = f.A.data() + static_cast<size_t>(r0) * b.K;
    fit_amplitudes(view, b, A);
    float* Wh = W_hat ? W_hat->data() + static_cast<size_t>(r0) * d : nullptr;
    if (!Wh) {
      local.resize(static_cast<size_t>(rows) * d);
      Wh = local.data();
    }
    reconstruct(A, rows, b, Wh);
    for (size_t i = 0; i < static_cast<size_t>(rows) * d; ++i) {
      const double x = P[i], e = x - Wh[i];
      ss += x * x;
      sum += x;
      f.sse += e * e;
    }
  });
  f.sst = ss - sum * sum / static_cast<double>(n * d);
  return f;
}

}  // namespace ctscope::ct
