// A naive double-precision CT reference for the tests: plain loops, normal
// equations solved by Cholesky in long double, eigenvalues by cyclic Jacobi.
// Deliberately shares no code with src/ct.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <vector>

namespace ctref {

using Mat = std::vector<double>;  // row-major

// Deterministic N(0,1) (Box-Muller on mt19937_64).
struct Rng {
  std::mt19937_64 g;
  explicit Rng(uint64_t seed) : g(seed) {}
  double uniform() { return (static_cast<double>(g() >> 11) + 0.5) * 0x1p-53; }
  double normal() { return std::sqrt(-2 * std::log(uniform())) * std::cos(2 * std::numbers::pi * uniform()); }
};

// Eigenvalues of symmetric A (m x m) by cyclic Jacobi, descending.
inline std::vector<double> jacobi_eigvals(Mat A, int64_t m) {
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, diag = 0;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < m; ++j) (i == j ? diag : off) += A[i * m + j] * A[i * m + j];
    if (off <= 1e-30 * diag || off == 0) break;
    for (int64_t p = 0; p < m; ++p)
      for (int64_t q = p + 1; q < m; ++q) {
        const double apq = A[p * m + q];
        if (apq == 0) continue;
        const double theta = (A[q * m + q] - A[p * m + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1 : -1) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int64_t k = 0; k < m; ++k) {  // columns p, q
          const double akp = A[k * m + p], akq = A[k * m + q];
          A[k * m + p] = c * akp - s * akq;
          A[k * m + q] = s * akp + c * akq;
        }
        for (int64_t k = 0; k < m; ++k) {  // rows p, q
          const double apk = A[p * m + k], aqk = A[q * m + k];
          A[p * m + k] = c * apk - s * aqk;
          A[q * m + k] = s * apk + c * aqk;
        }
      }
  }
  std::vector<double> w(m);
  for (int64_t i = 0; i < m; ++i) w[i] = A[i * m + i];
  std::sort(w.rbegin(), w.rend());
  return w;
}

inline Mat gaussian_basis(int K, int64_t d) {
  Mat B(K * d);
  const double sigma = double(d) / K;
  for (int k = 0; k < K; ++k) {
    const double mu = K == 1 ? double(d - 1) / 2.0 : k * double(d - 1) / (K - 1);
    for (int64_t j = 0; j < d; ++j) B[k * d + j] = std::exp(-(double(j) - mu) * (double(j) - mu) / (2 * sigma * sigma));
  }
  return B;
}

inline Mat dct_basis(int K, int64_t d) {
  Mat B(K * d);
  for (int k = 0; k < K; ++k)
    for (int64_t j = 0; j < d; ++j) B[k * d + j] = std::cos(std::numbers::pi / double(d) * (double(j) + 0.5) * k);
  return B;
}

// Solve (B B^T) X^T = B W'^T row by row: A = W' B^T (B B^T)^-1 via Cholesky in long double.
inline Mat amplitudes(const Mat& W, int64_t n, int64_t d, const Mat& B, int K, const Mat& offset) {
  std::vector<long double> G(K * K, 0), L(K * K, 0);
  for (int a = 0; a < K; ++a)
    for (int b = 0; b < K; ++b)
      for (int64_t j = 0; j < d; ++j) G[a * K + b] += (long double)B[a * d + j] * B[b * d + j];
  for (int i = 0; i < K; ++i)
    for (int j = 0; j <= i; ++j) {
      long double s = G[i * K + j];
      for (int k = 0; k < j; ++k) s -= L[i * K + k] * L[j * K + k];
      L[i * K + j] = i == j ? std::sqrt(s) : s / L[j * K + j];
    }
  Mat A(n * K);
  std::vector<long double> rhs(K), y(K);
  for (int64_t r = 0; r < n; ++r) {
    for (int a = 0; a < K; ++a) {
      long double s = 0;
      for (int64_t j = 0; j < d; ++j) s += (long double)(W[r * d + j] - (offset.empty() ? 0 : offset[j])) * B[a * d + j];
      rhs[a] = s;
    }
    for (int i = 0; i < K; ++i) {  // L y = rhs
      long double s = rhs[i];
      for (int k = 0; k < i; ++k) s -= L[i * K + k] * y[k];
      y[i] = s / L[i * K + i];
    }
    for (int i = K - 1; i >= 0; --i) {  // L^T x = y
      long double s = y[i];
      for (int k = i + 1; k < K; ++k) s -= L[k * K + i] * y[k];
      y[i] = s / L[i * K + i];
    }
    for (int a = 0; a < K; ++a) A[r * K + a] = (double)y[a];
  }
  return A;
}

struct Fit {
  double sse, r2, r2_svd, amplitude_pr;
  int amplitude_n95;
  std::vector<double> lam;  // amplitude covariance eigenvalues, descending
};
struct Result {
  double ss = 0, sum = 0, sst = 0, weight_pr = 0, stable_rank = 0, weight_pr_sv = 0;
  int weight_n95 = 0;
  std::vector<double> gram_eigs;      // uncentered smaller Gram
  std::vector<double> centered_eigs;  // centered Gram
};

inline int n95_of(const std::vector<double>& lam) {
  double tot = 0, cum = 0;
  for (double l : lam) tot += std::max(l, 0.0);
  for (size_t i = 0; i < lam.size(); ++i) {
    cum += std::max(lam[i], 0.0);
    if (cum >= 0.95 * tot) return int(i + 1);
  }
  return int(lam.size());
}

// W with every column's mean subtracted.
inline Mat column_centered(const Mat& W, int64_t n, int64_t d) {
  Mat Wc(W);
  for (int64_t j = 0; j < d; ++j) {
    long double cm = 0;
    for (int64_t i = 0; i < n; ++i) cm += W[i * d + j];
    cm /= n;
    for (int64_t i = 0; i < n; ++i) Wc[i * d + j] = W[i * d + j] - (double)cm;
  }
  return Wc;
}

// The smaller Gram of X (n x d): X^T X when n >= d, else X X^T (same nonzero spectrum).
inline Mat smaller_gram(const Mat& X, int64_t n, int64_t d) {
  const int64_t m = std::min(n, d);
  Mat G(m * m, 0.0);
  for (int64_t a = 0; a < m; ++a)
    for (int64_t b = a; b < m; ++b) {
      long double s = 0;
      if (n >= d) for (int64_t i = 0; i < n; ++i) s += (long double)X[i * d + a] * X[i * d + b];
      else for (int64_t j = 0; j < d; ++j) s += (long double)X[a * d + j] * X[b * d + j];
      G[a * m + b] = G[b * m + a] = (double)s;
    }
  return G;
}

// (tr C)^2 / tr(C^2) of a symmetric m x m matrix.
inline double participation_ratio(const Mat& C, int64_t m) {
  long double tr = 0, f2 = 0;
  for (int64_t i = 0; i < m; ++i) tr += C[i * m + i];
  for (double v : C) f2 += (long double)v * v;
  return (double)(tr * tr / f2);
}

// Matrix-level numbers. eigs: fn(Mat, m) -> descending eigenvalues.
template <typename Eig>
Result analyze(const Mat& W, int64_t n, int64_t d, Eig eigs) {
  Result r;
  long double ss = 0, sum = 0;
  for (double v : W) { ss += (long double)v * v; sum += v; }
  r.ss = (double)ss;
  r.sum = (double)sum;
  const long double mean = sum / (n * d);
  long double sst = 0;
  for (double v : W) sst += (v - mean) * (v - mean);
  r.sst = (double)sst;
  const int64_t m = std::min(n, d);
  const Mat G = smaller_gram(W, n, d), C = smaller_gram(column_centered(W, n, d), n, d);
  long double trc = 0;
  for (int64_t i = 0; i < m; ++i) trc += C[i * m + i];
  r.weight_pr = participation_ratio(C, m);
  r.gram_eigs = eigs(G, m);
  r.centered_eigs = eigs(C, m);
  r.stable_rank = (double)trc / r.centered_eigs[0];
  double s1 = 0, s2 = 0;
  for (double l : r.centered_eigs) { s1 += std::sqrt(std::max(l, 0.0)); s2 += std::max(l, 0.0); }
  r.weight_pr_sv = s1 * s1 / s2;
  r.weight_n95 = n95_of(r.centered_eigs);
  return r;
}

inline Fit fit(const Mat& W, int64_t n, int64_t d, const Mat& B, int K, const Mat& offset, const Result& mr) {
  const Mat A = amplitudes(W, n, d, B, K, offset);
  long double sse = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) {
      long double h = offset.empty() ? 0 : offset[j];
      for (int k = 0; k < K; ++k) h += (long double)A[i * K + k] * B[k * d + j];
      sse += (W[i * d + j] - h) * (W[i * d + j] - h);
    }
  Fit f;
  f.sse = (double)sse;
  f.r2 = 1 - f.sse / mr.sst;
  long double top = 0;
  for (int k = 0; k < K && k < (int)mr.gram_eigs.size(); ++k) top += mr.gram_eigs[k];
  f.r2_svd = 1 - (double)(mr.ss - top) / mr.sst;
  Mat Ac(A), cov(K * K, 0.0);
  for (int k = 0; k < K; ++k) {
    long double cm = 0;
    for (int64_t i = 0; i < n; ++i) cm += A[i * K + k];
    cm /= n;
    for (int64_t i = 0; i < n; ++i) Ac[i * K + k] -= (double)cm;
  }
  for (int a = 0; a < K; ++a)
    for (int b = 0; b < K; ++b) {
      long double s = 0;
      for (int64_t i = 0; i < n; ++i) s += (long double)Ac[i * K + a] * Ac[i * K + b];
      cov[a * K + b] = (double)s;
    }
  f.lam = jacobi_eigvals(cov, K);
  double s1 = 0, s2 = 0;
  for (double l : f.lam) { s1 += std::max(l, 0.0); s2 += std::max(l, 0.0) * std::max(l, 0.0); }
  f.amplitude_pr = s1 * s1 / s2;
  f.amplitude_n95 = n95_of(f.lam);
  return f;
}

}  // namespace ctref
