#include "ct/topk_eigen.hpp"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <random>

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

// Columns [c0, c1) of col-major V (m x ld cols): orthogonalize against V[:, 0:c0]
// twice (CGS2), then among themselves by Householder QR. Columns that vanish
// (Krylov space exhausted) are replaced by random directions.
void orthonormalize_block(std::vector<double>& V, int64_t m, int c0, int c1, std::mt19937_64& rng, double& flops) {
  const int b = c1 - c0;
  double* X = V.data() + static_cast<size_t>(c0) * m;
  std::vector<double> proj(static_cast<size_t>(std::max(c0, 1)) * b), tau(b);
  std::vector<double> norm0(b);
  auto project = [&] {
    if (c0 == 0) return;
    for (int pass = 0; pass < 2; ++pass) {
      cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, c0, b, static_cast<int>(m), 1.0, V.data(), static_cast<int>(m), X,
                  static_cast<int>(m), 0.0, proj.data(), c0);
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m), b, c0, -1.0, V.data(), static_cast<int>(m),
                  proj.data(), c0, 1.0, X, static_cast<int>(m));
      flops += 4.0 * static_cast<double>(m) * c0 * b;
    }
  };
  for (int attempt = 0; attempt < 3; ++attempt) {
    for (int k = 0; k < b; ++k) norm0[k] = cblas_dnrm2(static_cast<int>(m), X + static_cast<size_t>(k) * m, 1);
    project();
    // QR; a tiny R_kk means column k was (nearly) in the span of the others.
    std::vector<double> A(X, X + static_cast<size_t>(b) * m);
    LAPACKE_dgeqrf(LAPACK_COL_MAJOR, static_cast<lapack_int>(m), b, A.data(), static_cast<lapack_int>(m), tau.data());
    bool ok = true;
    for (int k = 0; k < b; ++k)
      if (!(std::abs(A[static_cast<size_t>(k) * m + k]) > 1e-8 * std::max(norm0[k], 1e-300))) {
        ok = false;
        std::normal_distribution<double> nd;  // any distribution will do here: only a direction is needed
        for (int64_t i = 0; i < m; ++i) X[static_cast<size_t>(k) * m + i] = nd(rng);
      }
    if (!ok && attempt < 2) continue;
    LAPACKE_dorgqr(LAPACK_COL_MAJOR, static_cast<lapack_int>(m), b, b, A.data(), static_cast<lapack_int>(m), tau.data());
    std::copy(A.begin(), A.end(), X);
    project();  // Householder Q of projected columns is orthogonal to V only up to rounding: clean once more
    flops += 4.0 * static_cast<double>(m) * b * b;
    break;
  }
}

double top_of(std::vector<double> T, int s) {
  return sym_eigvals_desc(std::move(T), s).front();
}

}  // namespace

TopEigen top_eigen(const std::vector<double>& M, const std::vector<double>& Mc_explicit, int64_t m,
                   const std::vector<int>& Ks, const Centering& c, const TopEigenOptions& opt) {
  TopEigen r;
  int kmax = 0;
  for (int K : Ks) kmax = std::max(kmax, K);
  const double mm = static_cast<double>(m);

  auto exact = [&] {
    r.exact = true;
    r.top_sums = prefix_sums(sym_eigvals_desc(M, m), Ks);
    r.lmax_c = sym_eigvals_desc(Mc_explicit, m).front();
    r.flops += 2 * (4.0 / 3.0) * mm * mm * mm;
    r.subspace = static_cast<int>(m);
    return r;
  };
  const int b = std::max(1, opt.block);
  const int smax = static_cast<int>(std::min<int64_t>(m / 2, 16 * static_cast<int64_t>(std::max(kmax, b))));
  if (m <= opt.exact_below || smax < kmax + 2 * b) return exact();

  const int mi = static_cast<int>(m);
  std::vector<double> V(static_cast<size_t>(m) * (smax + b)), Z(static_cast<size_t>(m) * b);
  std::vector<double> T(static_cast<size_t>(smax + b) * (smax + b), 0.0);  // col-major, ld = smax + b
  const int ldt = smax + b;
  std::mt19937_64 rng(0x1a2c05);
  std::uniform_real_distribution<double> ud(-1.0, 1.0);
  for (auto& v : V) v = 0;
  for (int k = 0; k < b; ++k)
    for (int64_t i = 0; i < m; ++i) V[static_cast<size_t>(k) * m + i] = ud(rng);
  const bool has_w = !c.w.empty();
  const double unorm = cblas_dnrm2(mi, c.u.data(), 1);
  if (unorm > 0)
    for (int64_t i = 0; i < m; ++i) V[i] = c.u[i] / unorm;
  orthonormalize_block(V, m, 0, b, rng, r.flops);

  std::vector<double> a, cw;  // V^T u, V^T w
  std::vector<double> prev;
  double prev_lmax = -1;
  for (int s0 = 0;; s0 += b) {
    const int s = s0 + b;
    const double* X = V.data() + static_cast<size_t>(s0) * m;
    // Z = M X_j; T[0:s, s0:s] = V^T Z.
    cblas_dsymm(CblasColMajor, CblasLeft, CblasUpper, mi, b, 1.0, M.data(), mi, X, mi, 0.0, Z.data(), mi);
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
    // Rayleigh-Ritz for M and Mc on span(V).
    std::vector<double> Ts(static_cast<size_t>(s) * s), Tc(static_cast<size_t>(s) * s);
    for (int j = 0; j < s; ++j)
      for (int i = 0; i < s; ++i) {
        const double t = T[static_cast<size_t>(j) * ldt + i];
        Ts[static_cast<size_t>(j) * s + i] = t;
        Tc[static_cast<size_t>(j) * s + i] = t + c.gamma * a[i] * a[j] - a[i] * cw[j] - cw[i] * a[j];
      }
    const auto sums = prefix_sums(sym_eigvals_desc(std::move(Ts), s), Ks);
    const double lmax = top_of(std::move(Tc), s);
    r.flops += 2 * (4.0 / 3.0) * s * static_cast<double>(s) * s;
    bool done = !prev.empty() && s >= kmax + b;
    for (size_t i = 0; done && i < sums.size(); ++i) done = sums[i] - prev[i] <= opt.tol_abs;
    done = done && lmax - prev_lmax <= opt.tol_rel_lmax * std::abs(lmax);
    prev = sums;
    prev_lmax = lmax;
    r.subspace = s;
    if (done) {
      r.top_sums = sums;
      r.lmax_c = lmax;
      return r;
    }
    if (s + b > smax) return exact();
    std::copy(Z.begin(), Z.end(), V.begin() + static_cast<std::ptrdiff_t>(s) * m);
    orthonormalize_block(V, m, s, s + b, rng, r.flops);
  }
}

}  // namespace ctscope::ct
