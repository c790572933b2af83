// Fixed row bases and their double-precision QR factorization.
#include "ct/basis.hpp"

#include <lapacke.h>

#include <cmath>
#include <numbers>

#include "util/error.hpp"
#include "util/normal_rng.hpp"

namespace ctscope::ct {

std::string_view basis_name(BasisKind k) {
  switch (k) {
    case BasisKind::Gaussian: return "gaussian";
    case BasisKind::Dct: return "dct";
    case BasisKind::Random: return "random";
    case BasisKind::Svd: return "svd";
    case BasisKind::Universal: return "universal";
  }
  return "?";
}

std::optional<BasisKind> basis_from_name(std::string_view s) {
  for (auto k : {BasisKind::Gaussian, BasisKind::Dct, BasisKind::Random, BasisKind::Svd, BasisKind::Universal})
    if (basis_name(k) == s) return k;
  return std::nullopt;
}

static void check_shape(std::string_view kind, int K, int64_t d) {
  if (K < 1 || d < 1) throw Error(fmt::format("basis {} K={} d={}: K and d must be positive", kind, K, d));
}

std::vector<double> gaussian_basis(int K, int64_t d) {
  check_shape("gaussian", K, d);
  std::vector<double> B(static_cast<size_t>(K) * d);
  const double sigma = static_cast<double>(d) / K;
  for (int k = 0; k < K; ++k) {
    const double dm1 = static_cast<double>(d - 1);
    const double mu = K == 1 ? dm1 / 2.0 : static_cast<double>(k) * dm1 / (K - 1);
    for (int64_t j = 0; j < d; ++j) {
      const double t = (static_cast<double>(j) - mu) / sigma;
      const double v = std::exp(-0.5 * t * t);
      B[k * d + j] = v < 1e-300 ? 0.0 : v;  // no subnormals: they make every BLAS call on B crawl
    }
  }
  return B;
}

std::vector<double> dct_basis(int K, int64_t d) {
  check_shape("dct", K, d);
  std::vector<double> B(static_cast<size_t>(K) * d);
  for (int k = 0; k < K; ++k)
    for (int64_t j = 0; j < d; ++j)
      B[k * d + j] = std::cos(std::numbers::pi / static_cast<double>(d) * (static_cast<double>(j) + 0.5) * k);
  return B;
}

std::vector<double> random_basis(int K, int64_t d, uint64_t seed) {
  check_shape("random", K, d);
  NormalRng normal(seed);
  std::vector<double> B(static_cast<size_t>(K) * d);
  for (double& v : B) v = normal();
  return B;
}

double white_noise_amplitude_pr(const std::vector<double>& R, int K) {
  // R^-1 is upper triangular; M = R^-1 R^-T, tr M = |R^-1|_F^2, tr M^2 = |M|_F^2.
  std::vector<double> Rinv(R);
  if (LAPACKE_dtrtri(LAPACK_ROW_MAJOR, 'U', 'N', K, Rinv.data(), K) != 0)
    throw Error(fmt::format("white-noise amplitude PR: singular R (K={})", K));
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < i; ++j) Rinv[i * K + j] = 0.0;  // dtrtri leaves the lower triangle as it was
  double tr = 0, tr2 = 0;
  for (int i = 0; i < K; ++i)
    for (int j = i; j < K; ++j) {
      double mij = 0;  // (R^-1 R^-T)_ij = sum_k Rinv[i,k] Rinv[j,k], k >= max(i, j) = j
      for (int k = j; k < K; ++k) mij += Rinv[i * K + k] * Rinv[j * K + k];
      if (i == j) tr += mij;
      tr2 += (i == j ? 1.0 : 2.0) * mij * mij;
    }
  return tr2 > 0 ? tr * tr / tr2 : 0.0;
}

FactoredBasis factor_basis(BasisKind kind, int K, int64_t d, std::vector<double> B, std::vector<double> offset) {
  const auto name = basis_name(kind);
  check_shape(name, K, d);
  if (K > d) throw Error(fmt::format("basis {} K={} d={}: K exceeds the row length", name, K, d));
  if (B.size() != static_cast<size_t>(K) * d)
    throw Error(fmt::format("basis {} K={} d={}: basis has {} entries", name, K, d, B.size()));
  if (!offset.empty() && offset.size() != static_cast<size_t>(d))
    throw Error(fmt::format("basis {} K={} d={}: offset has {} entries", name, K, d, offset.size()));
  for (double v : B)
    if (!std::isfinite(v)) throw Error(fmt::format("basis {} K={} d={}: non-finite entry", name, K, d));

  // B row-major (K x d) is B^T column-major (d x K): QR-factor it in place.
  std::vector<double> qr = B, tau(K);
  if (LAPACKE_dgeqrf(LAPACK_COL_MAJOR, static_cast<lapack_int>(d), K, qr.data(), static_cast<lapack_int>(d), tau.data()) != 0)
    throw Error(fmt::format("basis {} K={} d={}: QR failed", name, K, d));
  FactoredBasis f;
  f.kind = kind;
  f.K = K;
  f.d = d;
  f.R.assign(static_cast<size_t>(K) * K, 0.0);
  double rmax = 0;
  for (int i = 0; i < K; ++i) rmax = std::max(rmax, std::abs(qr[i * d + i]));
  for (int j = 0; j < K; ++j)
    for (int i = 0; i <= j; ++i) f.R[i * K + j] = qr[j * d + i];  // column-major (i, j) -> row-major
  for (int k = 0; k < K; ++k)
    if (!(std::abs(f.R[k * K + k]) > 1e-10 * rmax))
      throw Error(fmt::format("basis {} K={} d={}: rank deficient (|R_{}{}| = {:.3g}, max {:.3g})", name, K, d, k, k,
                              std::abs(f.R[k * K + k]), rmax));
  if (LAPACKE_dorgqr(LAPACK_COL_MAJOR, static_cast<lapack_int>(d), K, K, qr.data(), static_cast<lapack_int>(d), tau.data()) != 0)
    throw Error(fmt::format("basis {} K={} d={}: forming Q failed", name, K, d));
  f.Q.resize(static_cast<size_t>(d) * K);
  f.Qf.resize(f.Q.size());
  // Entries below 1e-30 (the far tails of Gaussians) are set to 0: they change
  // nothing measurable, and subnormals would slow every product with Q ~10x.
  for (int64_t j = 0; j < d; ++j)
    for (int k = 0; k < K; ++k) {
      const double q = qr[k * d + j];
      f.Q[j * K + k] = std::abs(q) < 1e-30 ? 0.0 : q;
      f.Qf[j * K + k] = static_cast<float>(f.Q[j * K + k]);
    }
  f.B = std::move(B);
  f.offset = std::move(offset);
  f.amplitude_pr_null = white_noise_amplitude_pr(f.R, K);
  return f;
}

FactoredBasis make_fixed_basis(BasisKind kind, int K, int64_t d, uint64_t seed) {
  switch (kind) {
    case BasisKind::Gaussian: return factor_basis(kind, K, d, gaussian_basis(K, d));
    case BasisKind::Dct: return factor_basis(kind, K, d, dct_basis(K, d));
    case BasisKind::Random: return factor_basis(kind, K, d, random_basis(K, d, seed));
    default: throw Error(fmt::format("basis {} is not a fixed basis (it is fitted from weights)", basis_name(kind)));
  }
}

}  // namespace ctscope::ct
