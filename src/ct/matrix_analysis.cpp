// analyze_matrix: one Gram pass, then every number from the Gram (tall
// matrices) or from the Gram plus W Q (wide matrices), in double.
#include "ct/matrix_analysis.hpp"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>

#include "linalg/blas_threads.hpp"
#include "linalg/gram.hpp"
#include "linalg/sym_eigen.hpp"
#include "linalg/topk_eigen.hpp"
#include "util/error.hpp"
#include "util/resource_usage.hpp"
#include "util/thread_pool.hpp"

namespace ctscope::ct {

using namespace linalg;

namespace {

// PR and n95 of nonnegative eigenvalues sorted descending (tiny negatives from
// rounding count as 0).
void pr_and_n95(const std::vector<double>& lam, double& pr, int& n95) {
  double s1 = 0, s2 = 0;
  for (double l : lam) {
    const double v = std::max(l, 0.0);
    s1 += v;
    s2 += v * v;
  }
  pr = s2 > 0 ? s1 * s1 / s2 : 0.0;
  n95 = 0;
  double cum = 0;
  for (double l : lam) {
    if (s1 <= 0) break;
    cum += std::max(l, 0.0);
    ++n95;
    if (cum >= 0.95 * s1) break;
  }
}

struct BasisFit {
  double sse = 0, amplitude_pr = 0;
  int amplitude_n95 = 0;
  double flops = 0;
};

// Everything about one basis from YtY = Q^T W^T W Q and a = Q^T colsum.
BasisFit fit_from_projections(const FactoredBasis& b, std::vector<double> YtY, std::vector<double> a,
                              const GramPass& g, int64_t n) {
  const int K = b.K;
  const int64_t d = b.d;
  const double nn = static_cast<double>(n);
  double ss = g.ss;
  if (!b.offset.empty()) {
    // W' = W - 1 o^T: W'^T W' projected, column sums and SS shift by rank-one terms.
    std::vector<double> qo(K, 0.0);
    double oc = 0, oo = 0;
    for (int64_t j = 0; j < d; ++j) {
      const double o = b.offset[j] * g.scale;  // in the units of the pass
      oc += o * g.colsum[j];
      oo += o * o;
      for (int k = 0; k < K; ++k) qo[k] += b.Q[j * K + k] * o;
    }
    for (int i = 0; i < K; ++i)
      for (int j = 0; j < K; ++j) YtY[i * K + j] += -a[i] * qo[j] - qo[i] * a[j] + nn * qo[i] * qo[j];
    for (int k = 0; k < K; ++k) a[k] -= nn * qo[k];
    ss = ss - 2 * oc + nn * oo;
  }
  BasisFit f;
  double tr = 0;
  for (int k = 0; k < K; ++k) tr += YtY[k * K + k];
  f.sse = std::max(0.0, ss - tr);
  // Centered amplitude covariance R^-1 (Yc^T Yc) R^-T, Yc^T Yc = Y^T Y - a a^T / n.
  std::vector<double> S(YtY);
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j) S[i * K + j] -= a[i] * a[j] / nn;
  cblas_dtrsm(CblasRowMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasNonUnit, K, K, 1.0, b.R.data(), K, S.data(), K);
  cblas_dtrsm(CblasRowMajor, CblasRight, CblasUpper, CblasTrans, CblasNonUnit, K, K, 1.0, b.R.data(), K, S.data(), K);
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < i; ++j) S[i * K + j] = S[j * K + i] = 0.5 * (S[i * K + j] + S[j * K + i]);
  std::vector<double> lam(K);
  if (LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', K, S.data(), K, lam.data()) != 0)
    throw Error("amplitude eigensolver failed to converge");
  std::reverse(lam.begin(), lam.end());
  pr_and_n95(lam, f.amplitude_pr, f.amplitude_n95);
  f.flops = 2.0 * K * K * K + 10.0 * K * K * K;
  return f;
}

// All bases side by side (d x kq): one product serves them all.
std::vector<double> stack_bases(const std::vector<const FactoredBasis*>& bases, int64_t d, int kq) {
  std::vector<double> Qall(static_cast<size_t>(d) * kq);
  int c0 = 0;
  for (const auto* b : bases) {
    for (int64_t j = 0; j < d; ++j)
      for (int k = 0; k < b->K; ++k) Qall[j * kq + c0 + k] = b->Q[j * b->K + k];
    c0 += b->K;
  }
  return Qall;
}

// The centered Gram Mc as a low-rank correction of G (`cen`) and its two traces
// from G's:
//   tall: C = G - u u^T, u = colsum / sqrt(n)
//   wide: Hc = P H P, P = I - e e^T, e = 1 / sqrt(n): u = e, w = H e, gamma = e^T H e.
struct CenteredTraces {
  Centering cen;
  double trc = 0, trc2 = 0;  // tr Mc, tr Mc^2
};

// G x for the pass's symmetric G (upper triangle), x of length m. DSYMV works
// on copies with 8 spare elements: OpenBLAS's Prescott DSYMV kernel reads up to
// 4 past the end of its vectors (under ASan a 320-byte vector ending a mapped
// page made that a SEGV).
std::vector<double> gram_times(const GramPass& g, const std::vector<double>& x) {
  const int64_t m = g.m;
  const int mi = static_cast<int>(m);
  std::vector<double> xs(static_cast<size_t>(m) + 8, 0.0), y(static_cast<size_t>(m) + 8, 0.0);
  std::copy_n(x.begin(), m, xs.begin());
  cblas_dsymv(CblasRowMajor, CblasUpper, mi, 1.0, g.G.data(), mi, xs.data(), 1, 0.0, y.data(), 1);
  y.resize(static_cast<size_t>(m));
  return y;
}
CenteredTraces centered_traces(const GramPass& g, int64_t n, int64_t d) {
  const int64_t m = g.m;
  const int mi = static_cast<int>(m);
  const double nn = static_cast<double>(n);
  double trg = 0, fro2 = 0;
  for (int64_t i = 0; i < m; ++i) trg += g.G[i * m + i];
  {
    std::vector<double> part(worker_count(), 0.0);
    auto row = [&](int64_t i, int w) {
      double s2 = 0;
      for (int64_t j = i + 1; j < m; ++j) s2 += g.G[i * m + j] * g.G[i * m + j];
      part[w] += 2 * s2 + g.G[i * m + i] * g.G[i * m + i];
    };
    parallel_for((m + 1) / 2, 8, [&](int64_t p0, int64_t p1, int w) {  // rows p, m-1-p: balanced triangle
      for (int64_t p = p0; p < p1; ++p) {
        row(p, w);
        if (m - 1 - p != p) row(m - 1 - p, w);
      }
    });
    for (double v : part) fro2 += v;
  }
  CenteredTraces t;
  Centering& cen = t.cen;
  if (g.row_gram) {
    cen.u.resize(d);
    for (int64_t j = 0; j < d; ++j) cen.u[j] = g.colsum[j] / std::sqrt(nn);
    cen.gamma = -1;
    const std::vector<double> Gu = gram_times(g, cen.u);
    const double uu = cblas_ddot(mi, cen.u.data(), 1, cen.u.data(), 1), uGu = cblas_ddot(mi, cen.u.data(), 1, Gu.data(), 1);
    t.trc = trg - uu;
    t.trc2 = fro2 - 2 * uGu + uu * uu;
  } else {
    cen.u.assign(n, 1.0 / std::sqrt(nn));
    cen.w = gram_times(g, cen.u);
    cen.gamma = cblas_ddot(mi, cen.u.data(), 1, cen.w.data(), 1);
    t.trc = trg - cen.gamma;
    t.trc2 = fro2 - 2 * cblas_ddot(mi, cen.w.data(), 1, cen.w.data(), 1) + cen.gamma * cen.gamma;
  }
  return t;
}

// Mc = G + gamma u u^T - u w^T - w u^T explicitly (m x m, full).
std::vector<double> centered_gram(const GramPass& g, const Centering& cen) {
  const int64_t m = g.m;
  std::vector<double> Mc;
  symmetric_from_upper(g.G, m, Mc);
  const bool has_w = !cen.w.empty();
  parallel_for(m, 16, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = 0; j < m; ++j)
        Mc[i * m + j] += cen.gamma * cen.u[i] * cen.u[j] - (has_w ? cen.u[i] * cen.w[j] + cen.w[i] * cen.u[j] : 0.0);
  });
  return Mc;
}

// The full spectrum of Mc and the numbers that need it. Mc is PSD: negative
// eigenvalues within round-off (kSpectrumRoundoff of tr Mc) are shown as 0.
Spectrum full_spectrum(std::vector<double> Mc, int64_t m, double trace) {
  Spectrum sp;
  sp.eigenvalues = sym_eigvals_desc(std::move(Mc), m);
  for (double& l : sp.eigenvalues)
    if (l < 0 && -l <= kSpectrumRoundoff * trace) l = 0;
  double pr_unused = 0;
  pr_and_n95(sp.eigenvalues, pr_unused, sp.weight_n95);
  double s1 = 0, s2 = 0;
  for (double l : sp.eigenvalues) {
    const double sv = std::sqrt(std::max(l, 0.0));
    s1 += sv;
    s2 += sv * sv;
  }
  sp.weight_pr_sv = s2 > 0 ? s1 * s1 / s2 : 0.0;
  return sp;
}

// Q^T W^T W Q for every basis at once (kq x kq, full) and Q^T colsum: from
// Y^T Y of the pass, or from G (Q^T G Q) when the pass skipped Y.
void stacked_projections(const GramPass& g, const std::vector<double>& Qall, int64_t d, int kq, bool y_in_pass,
                         std::vector<double>& P, std::vector<double>& acol, double& flops) {
  P.assign(static_cast<size_t>(kq) * kq, 0.0);
  acol.assign(kq, 0.0);
  if (kq == 0) return;
  if (!y_in_pass) {
    std::vector<double> T(static_cast<size_t>(d) * kq);
    cblas_dsymm(CblasRowMajor, CblasLeft, CblasUpper, static_cast<int>(d), kq, 1.0, g.G.data(), static_cast<int>(d),
                Qall.data(), kq, 0.0, T.data(), kq);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kq, kq, static_cast<int>(d), 1.0, Qall.data(), kq, T.data(), kq,
                0.0, P.data(), kq);
    flops += 2.0 * static_cast<double>(d) * static_cast<double>(d) * kq + 2.0 * static_cast<double>(d) * kq * kq;
  } else {
    for (int i = 0; i < kq; ++i)
      for (int j = 0; j < kq; ++j) P[i * kq + j] = g.YtY[std::min(i, j) * kq + std::max(i, j)];
  }
  cblas_dgemv(CblasRowMajor, CblasTrans, static_cast<int>(d), kq, 1.0, Qall.data(), kq, g.colsum.data(), 1, 0.0,
              acol.data(), 1);
}

// The number of stacked basis columns; every basis must fit the row length d.
int stacked_width(const std::vector<const FactoredBasis*>& bases, int64_t d) {
  int kq = 0;
  for (const auto* b : bases) {
    if (!b) throw Error("analyze_matrix: null basis");
    if (b->d != d)
      throw Error(fmt::format("basis {} K={} has row length {}, matrix rows have {}", basis_name(b->kind), b->K, b->d, d));
    kq += b->K;
  }
  return kq;
}

// One FitResult per basis, from its block of the stacked projections P (kq x kq)
// and acol; r2_svd from the top-K eigenvalue sums of the Gram, r2_bound of an
// affine basis from those of the centered Gram (in te.top_sums_c, one per
// affine basis in order); an r2 above its bound by round-off is clamped to
// it. Adds the flops to r.
std::vector<FitResult> fit_results(const MatrixAnalysisOptions& opt, const std::vector<double>& P,
                                   const std::vector<double>& acol, const GramPass& g, const TopEigen& te,
                                   MatrixResult& r, double trc, int64_t n, int64_t d) {
  const auto kq = static_cast<int>(acol.size());
  std::vector<FitResult> fits;
  int c0 = 0;
  size_t affine_i = 0;
  for (size_t bi = 0; bi < opt.bases.size(); ++bi) {
    const FactoredBasis& b = *opt.bases[bi];
    const int K = b.K;
    std::vector<double> YtY(static_cast<size_t>(K) * K), a(acol.begin() + c0, acol.begin() + c0 + K);
    for (int i = 0; i < K; ++i)
      for (int j = 0; j < K; ++j) YtY[i * K + j] = P[(c0 + i) * kq + c0 + j];
    const BasisFit bf = fit_from_projections(b, std::move(YtY), std::move(a), g, n);
    r.flops += bf.flops;
    FitResult fr;
    fr.K = K;
    fr.basis = b.kind;
    fr.sse = bf.sse;
    fr.r2 = 1.0 - bf.sse / r.sst;
    fr.r2_null = static_cast<double>(K) / static_cast<double>(d);
    fr.amplitude_pr = bf.amplitude_pr;
    fr.amplitude_pr_null = b.amplitude_pr_null;
    fr.amplitude_n95 = bf.amplitude_n95;
    fr.trivial = K >= d;
    if (opt.svd_baseline) {
      fr.r2_svd = 1.0 - std::max(0.0, g.ss - te.top_sums[bi]) / r.sst;
      fr.r2_bound = is_affine(b.kind) ? 1.0 - std::max(0.0, trc - te.top_sums_c[affine_i++]) / r.sst : fr.r2_svd;
      if (fr.r2 > fr.r2_bound && fr.r2 - fr.r2_bound <= kBoundRoundoff) {
        fr.r2 = fr.r2_bound;
        fr.sse = (1.0 - fr.r2) * r.sst;
      }
    }
    fits.push_back(fr);
    c0 += K;
  }
  return fits;
}

// The sums of r back in the weights' units (what reports and pooled R² add
// up): exact, since scale is a power of two and every float32's square fits a
// double many times over. Ratios (R², PR, stable rank) are unchanged.
void in_weight_units(MatrixResult& r, double scale) {
  if (scale == 1) return;
  const double u = 1 / scale, u2 = u * u;
  r.ss *= u2;
  r.sum *= u;
  r.sst *= u2;
  for (FitResult& f : r.fits) f.sse *= u2;
  if (r.spectrum)
    for (double& l : r.spectrum->eigenvalues) l *= u2;
}

}  // namespace

MatrixResult analyze_matrix(const MatrixView& W, const MatrixAnalysisOptions& opt) {
  ScopedBlasThreads serial_blas(1);  // see blas_threads.hpp
  MatrixResult r;
  r.n = W.n;
  r.d = W.d;
  const int64_t n = W.n, d = W.d;
  const int kq = stacked_width(opt.bases, d);
  const bool row_gram = n >= d;
  // Tall matrices: Y^T Y = Q^T G Q costs 2 d^2 kq in double from G, or 2 n d kq
  // in float from W during the pass; the pass wins unless n >> d.
  const bool y_in_pass = !row_gram || n <= 4 * d;
  const std::vector<double> Qall = stack_bases(opt.bases, d, kq);
  const std::vector<float> Qallf = y_in_pass ? std::vector<float>(Qall.begin(), Qall.end()) : std::vector<float>();

  // 1. The pass. Its big buffers are reused across calls on this thread.
  Stopwatch stage;
  static thread_local GramPass tl_gram;
  static thread_local std::vector<float> tl_eigen_work;
  GramPass& g = tl_gram;
  gram_pass(W, row_gram, Qallf.data(), y_in_pass ? kq : 0, g);
  r.flops += g.flops;
  r.gram_s = stage.seconds();
  stage.restart();
  if (!g.finite) {
    r.error = "contains NaN or Inf";
    return r;
  }
  // Everything below is in the units of the pass (g.scale * W, see gram.hpp)
  // until in_weight_units.
  const double nd = static_cast<double>(n) * static_cast<double>(d);
  r.ss = g.ss;
  r.sum = g.sum;
  r.sst = g.ss - g.sum * g.sum / nd;
  if (!(r.sst > 1e-12 * g.ss)) {
    r.sst = 0;
    r.error = "constant matrix (SST = 0)";
    return r;
  }

  // 2. Weight PR and stable rank of the centered Gram; top-K sums for r2_svd.
  const CenteredTraces ct = centered_traces(g, n, d);
  const double mm = static_cast<double>(g.m);
  r.flops += 4.0 * mm * mm;
  r.weight_pr = ct.trc2 > 0 ? ct.trc * ct.trc / ct.trc2 : 0.0;
  std::vector<int> Ks;
  TopEigenOptions eo;
  if (opt.svd_baseline)
    for (const auto* b : opt.bases) {
      Ks.push_back(b->K);
      if (is_affine(b->kind)) eo.Ks_centered.push_back(b->K);
    }
  eo.tol_abs = opt.svd_tol * r.sst;  // on each top-K sum = on r2_svd
  TopEigen te = top_eigen(g.G, [&] { return centered_gram(g, ct.cen); }, g.m, Ks, ct.cen, eo, tl_eigen_work);
  r.flops += te.flops;
  if (opt.spectrum) {
    r.spectrum = full_spectrum(centered_gram(g, ct.cen), g.m, ct.trc);
    r.flops += (4.0 / 3.0) * mm * mm * mm;
    te.lmax_c = r.spectrum->eigenvalues.front();
  }
  r.stable_rank = te.lmax_c > 0 ? ct.trc / te.lmax_c : 0.0;
  r.krylov_dim = te.exact ? 0 : te.subspace;
  r.eigen_s = stage.seconds();
  stage.restart();

  // 3. Every basis's fit from the stacked projections.
  std::vector<double> P, acol;
  stacked_projections(g, Qall, d, kq, y_in_pass, P, acol, r.flops);
  r.fits = fit_results(opt, P, acol, g, te, r, ct.trc, n, d);
  in_weight_units(r, g.scale);
  r.fit_s = stage.seconds();
  return r;
}

}  // namespace ctscope::ct
