#include "ct/topk_eigen.hpp"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "util/error.hpp"

namespace ctscope::ct {

std::vector<double> sym_eigvals_desc(std::vector<double> A, int64_t m) {
  std::vector<double> w(static_cast<size_t>(m));
  if (m == 0) return w;
  const auto mi = static_cast<lapack_int>(m);
  if (LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', mi, A.data(), mi, w.data()) != 0)
    throw Error("symmetric eigensolver failed to converge");
  std::reverse(w.begin(), w.end());
  return w;
}

namespace {

std::vector<double> prefix_sums(const std::vector<double>& desc, const std::vector<int>& Ks) {
  std::vector<double> out;
  for (int K : Ks) {
    double s = 0;
    for (int64_t i = 0; i < std::min<int64_t>(K, static_cast<int64_t>(desc.size())); ++i) s += desc[i];
    out.push_back(s);
  }
  return out;
}

// Columns [c0, c1) of col-major V (m x cols): block classical Gram-Schmidt
// twice against V[:, 0:c0], each pass followed by Cholesky QR (BCGS2 +
// CholQR: all level-3 BLAS; the second pass restores orthogonality to
// rounding). If the first pass finds a column with (nearly) no new direction -
// the Krylov space is exhausted - those columns are replaced by random ones.
void orthonormalize_block(std::vector<double>& V, int64_t m, int c0, int c1, std::mt19937_64& rng, double& flops) {
  const int b = c1 - c0, mi = static_cast<int>(m);
  double* X = V.data() + static_cast<size_t>(c0) * m;
  std::vector<double> proj(static_cast<size_t>(std::max(c0, 1)) * b), R(static_cast<size_t>(b) * b), norm0(b);
  auto project = [&] {
    if (c0 == 0) return;
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, c0, b, mi, 1.0, V.data(), mi, X, mi, 0.0, proj.data(), c0);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, mi, b, c0, -1.0, V.data(), mi, proj.data(), c0, 1.0, X, mi);
    flops += 4.0 * static_cast<double>(m) * c0 * b;
  };
  // X = Q R with R from the Cholesky factor of X^T X; false if a column is
  // (relative to its norm before projection) too small to trust.
  auto cholqr = [&](bool check) {
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, b, mi, 1.0, X, mi, 0.0, R.data(), b);
    flops += 2.0 * static_cast<double>(m) * b * b;
    if (check)
      for (int k = 0; k < b; ++k)
        if (!(R[static_cast<size_t>(k) * b + k] > 1e-12 * norm0[k] * norm0[k])) return false;
    if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', b, R.data(), b) != 0) return false;
    if (check)
      for (int k = 0; k < b; ++k)
        if (!(R[static_cast<size_t>(k) * b + k] > 1e-6 * norm0[k])) return false;
    cblas_dtrsm(CblasColMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, mi, b, 1.0, R.data(), b, X, mi);
    return true;
  };
  for (int attempt = 0;; ++attempt) {
    for (int k = 0; k < b; ++k) norm0[k] = std::max(cblas_dnrm2(mi, X + static_cast<size_t>(k) * m, 1), 1e-300);
    project();
    if (cholqr(true)) break;
    if (attempt >= 3) throw Error("block Lanczos: cannot extend the Krylov basis");
    // Breakdown: a fresh random block (any direction outside span(V) will do).
    std::normal_distribution<double> nd;
    for (size_t i = 0; i < static_cast<size_t>(b) * m; ++i) X[i] = nd(rng);
  }
  project();
  if (!cholqr(false)) throw Error("block Lanczos: lost orthogonality");
}

// Eigenvalues (descending) of the s x s Rayleigh quotient S (col-major, ld).
// Block Lanczos makes it banded with half-width b (the coupling blocks are the
// triangular R factors), so a band solver does; if roundoff or a restarted
// block broke the band structure, the dense solver does.
std::vector<double> ritz_values(const std::vector<double>& S, int ld, int s, int b) {
  double big = 0, off = 0;
  for (int j = 0; j < s; ++j)
    for (int i = 0; i <= j; ++i) {
      const double v = std::abs(S[static_cast<size_t>(j) * ld + i]);
      big = std::max(big, v);
      if (j - i > b) off = std::max(off, v);
    }
  std::vector<double> w(static_cast<size_t>(s));
  if (off <= 1e-12 * big) {
    const int ldab = b + 1;
    std::vector<double> ab(static_cast<size_t>(ldab) * s, 0.0);
    for (int j = 0; j < s; ++j)
      for (int i = std::max(0, j - b); i <= j; ++i) ab[static_cast<size_t>(j) * ldab + (b + i - j)] = S[static_cast<size_t>(j) * ld + i];
    if (LAPACKE_dsbevd(LAPACK_COL_MAJOR, 'N', 'U', s, b, ab.data(), ldab, w.data(), nullptr, 1) != 0)
      throw Error("band eigensolver failed to converge");
    std::reverse(w.begin(), w.end());
    return w;
  }
  std::vector<double> A(static_cast<size_t>(s) * s);
  for (int j = 0; j < s; ++j)
    for (int i = 0; i < s; ++i) A[static_cast<size_t>(j) * s + i] = S[static_cast<size_t>(j) * ld + i];
  return sym_eigvals_desc(std::move(A), s);  // symmetric: row/column order does not matter
}

}  // namespace

TopEigen top_eigen(const std::vector<double>& M, const std::function<std::vector<double>()>& make_Mc, int64_t m,
                   const std::vector<int>& Ks, const Centering& c, const TopEigenOptions& opt, std::vector<float>& work) {
  TopEigen r;
  int kmax = 1;
  for (int K : Ks) kmax = std::max(kmax, K);
  const double mm = static_cast<double>(m);

  auto exact = [&] {
    r.exact = true;
    r.top_sums = prefix_sums(sym_eigvals_desc(M, m), Ks);
    r.lmax_c = sym_eigvals_desc(make_Mc(), m).front();
    r.flops += 2 * (4.0 / 3.0) * mm * mm * mm;
    r.subspace = static_cast<int>(m);
    return r;
  };
  const int b = opt.block > 0 ? opt.block : kmax >= 32 ? 32 : 16;
  const int smax = static_cast<int>(std::min<int64_t>(m / 2, 16 * static_cast<int64_t>(std::max(kmax, b))));
  if (m <= opt.exact_below || smax < kmax + 2 * b) return exact();

  const int mi = static_cast<int>(m);
  // Products in float: M is read once per block step and that read is the cost;
  // Ritz values then carry ~1e-7 relative error, far inside the tolerances.
  std::vector<float>& Mf = work;  // upper triangle is what ssymm reads
  Mf.resize(static_cast<size_t>(m * m));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = i; j < m; ++j) Mf[i * m + j] = static_cast<float>(M[i * m + j]);
  std::vector<float> Xf(static_cast<size_t>(m) * b), Zf(Xf.size());
  std::vector<double> Z(static_cast<size_t>(m) * b);
  // The Krylov basis and projected matrix (col-major) live across calls on
  // this thread; only the columns in use are ever written or read.
  static thread_local std::vector<double> tl_V, tl_T;
  std::vector<double>& V = tl_V;
  std::vector<double>& T = tl_T;
  const int ldt = smax + b;
  if (V.size() < static_cast<size_t>(m) * (smax + b)) V.resize(static_cast<size_t>(m) * (smax + b));
  if (T.size() < static_cast<size_t>(ldt) * ldt) T.resize(static_cast<size_t>(ldt) * ldt);
  std::mt19937_64 rng(0x1a2c05);
  std::uniform_real_distribution<double> ud(-1.0, 1.0);
  for (int k = 0; k < b; ++k)
    for (int64_t i = 0; i < m; ++i) V[static_cast<size_t>(k) * m + i] = ud(rng);
  const bool has_w = !c.w.empty();
  const double unorm = cblas_dnrm2(mi, c.u.data(), 1);
  if (unorm > 0)
    for (int64_t i = 0; i < m; ++i) V[i] = c.u[i] / unorm;
  orthonormalize_block(V, m, 0, b, rng, r.flops);

  std::vector<double> a, cw;  // V^T u, V^T w
  std::vector<double> prev, delta;
  double prev_lmax = -1, lmax = 0;
  bool lmax_done = false;
  for (int s0 = 0;; s0 += b) {
    const int s = s0 + b;
    const double* X = V.data() + static_cast<size_t>(s0) * m;
    // Z = M X_j; T[0:s, s0:s] = V^T Z.
    std::transform(X, X + static_cast<size_t>(b) * m, Xf.begin(), [](double v) { return static_cast<float>(v); });
    // Row-major upper of Mf is column-major lower.
    cblas_ssymm(CblasColMajor, CblasLeft, CblasLower, mi, b, 1.f, Mf.data(), mi, Xf.data(), mi, 0.f, Zf.data(), mi);
    std::copy(Zf.begin(), Zf.end(), Z.begin());
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, s, b, mi, 1.0, V.data(), mi, Z.data(), mi, 0.0,
                T.data() + static_cast<size_t>(s0) * ldt, ldt);
    r.flops += 2.0 * mm * mm * b + 2.0 * mm * s * b;
    for (int j = s0; j < s; ++j)
      for (int i = 0; i < j; ++i) {
        const double avg = i >= s0 ? 0.5 * (T[static_cast<size_t>(j) * ldt + i] + T[static_cast<size_t>(i) * ldt + j])
                                   : T[static_cast<size_t>(j) * ldt + i];
        T[static_cast<size_t>(j) * ldt + i] = T[static_cast<size_t>(i) * ldt + j] = avg;
      }
    a.resize(s);
    cw.resize(s);
    for (int k = s0; k < s; ++k) {
      a[k] = cblas_ddot(mi, V.data() + static_cast<size_t>(k) * m, 1, c.u.data(), 1);
      cw[k] = has_w ? cblas_ddot(mi, V.data() + static_cast<size_t>(k) * m, 1, c.w.data(), 1) : 0.0;
    }
    r.subspace = s;
    if (s >= kmax + b) {
      // Rayleigh-Ritz on span(V) for M (and for Mc until its top value settles).
      if (!lmax_done) {
        std::vector<double> Tc(static_cast<size_t>(s) * s);
        for (int j = 0; j < s; ++j)
          for (int i = 0; i < s; ++i)
            Tc[static_cast<size_t>(j) * s + i] =
                T[static_cast<size_t>(j) * ldt + i] + c.gamma * a[i] * a[j] - a[i] * cw[j] - cw[i] * a[j];
        lmax = ritz_values(Tc, s, s, b).front();
        lmax_done = prev_lmax > 0 && lmax - prev_lmax <= opt.tol_rel_lmax * std::abs(lmax);
        prev_lmax = lmax;
        r.flops += 6.0 * s * static_cast<double>(s) * b;
      }
      const auto sums = prefix_sums(ritz_values(T, ldt, s, b), Ks);
      r.flops += 6.0 * s * static_cast<double>(s) * b;
      // Ritz sums grow monotonically and, past the first steps, geometrically:
      // with rate q = step / previous step, what is left is about step q / (1 - q).
      bool done = lmax_done && !prev.empty();
      for (size_t i = 0; done && i < sums.size(); ++i) {
        const double step = sums[i] - prev[i];
        if (step <= 0.01 * opt.tol_abs) continue;
        const double q = delta.empty() || delta[i] <= 0 ? 1.0 : step / delta[i];
        done = q < 0.7 && step * q / (1 - q) <= opt.tol_abs;
      }
      if (std::getenv("CT_LZ_DEBUG"))
        std::fprintf(stderr, "lz s=%d sums=%.12g %.12g lmax=%.12g\n", s, sums.empty() ? 0 : sums[0], sums.size() > 1 ? sums[1] : 0, lmax);
      if (!prev.empty()) {
        delta.resize(sums.size());
        for (size_t i = 0; i < sums.size(); ++i) delta[i] = sums[i] - prev[i];
      }
      prev = sums;
      if (done) {
        r.top_sums = sums;
        r.lmax_c = lmax;
        return r;
      }
    }
    if (s + b > smax) return exact();
    std::copy(Z.begin(), Z.end(), V.begin() + static_cast<std::ptrdiff_t>(s) * m);
    orthonormalize_block(V, m, s, s + b, rng, r.flops);
  }
}

}  // namespace ctscope::ct
