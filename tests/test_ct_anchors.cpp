// The spec's sanity anchors, basis definitions, amplitudes/reconstruction and
// the error paths of the CT numerics.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "ct/basis.hpp"
#include "ct/amplitudes.hpp"
#include "ct/matrix_analysis.hpp"
#include "ct/svd_basis.hpp"
#include "ct/universal_basis.hpp"
#include "ct_reference.hpp"
#include "io/dtype.hpp"
#include "util/error.hpp"

using namespace ctscope;
using namespace ctscope::ct;
using namespace ctscope::linalg;

namespace {

bool sanitized() { return std::getenv("CTSCOPE_SANITIZED") != nullptr; }

std::vector<float> to_float(const ctref::Mat& W) { return {W.begin(), W.end()}; }

MatrixView view(const std::vector<float>& W, int64_t n, int64_t d) { return {DType::F32, W.data(), n, d}; }

MatrixResult analyze(const std::vector<float>& W, int64_t n, int64_t d, std::vector<const FactoredBasis*> bases,
                     bool spectrum = false) {
  MatrixAnalysisOptions o;
  o.bases = std::move(bases);
  o.spectrum = spectrum;
  return analyze_matrix(view(W, n, d), o);
}

// n x d matrix with orthonormal, mean-zero columns in U scaled by s and
// orthonormal rows V: W = U diag(s) V^T (centering leaves it unchanged).
ctref::Mat low_rank(int64_t n, int64_t d, const std::vector<double>& s, uint64_t seed) {
  ctref::Rng rng(seed);
  const int r = static_cast<int>(s.size());
  auto orthonormal = [&](int64_t len, bool mean_zero) {
    ctref::Mat Q(static_cast<size_t>(r * len));
    for (int k = 0; k < r; ++k) {
      double* q = Q.data() + k * len;
      for (int64_t i = 0; i < len; ++i) q[i] = rng.normal();
      for (int pass = 0; pass < 2; ++pass) {
        if (mean_zero) {
          double m = 0;
          for (int64_t i = 0; i < len; ++i) m += q[i];
          for (int64_t i = 0; i < len; ++i) q[i] -= m / double(len);
        }
        for (int l = 0; l < k; ++l) {
          double dot = 0;
          for (int64_t i = 0; i < len; ++i) dot += q[i] * Q[l * len + i];
          for (int64_t i = 0; i < len; ++i) q[i] -= dot * Q[l * len + i];
        }
      }
      double nrm = 0;
      for (int64_t i = 0; i < len; ++i) nrm += q[i] * q[i];
      for (int64_t i = 0; i < len; ++i) q[i] /= std::sqrt(nrm);
    }
    return Q;
  };
  const auto U = orthonormal(n, true), V = orthonormal(d, false);
  ctref::Mat W(static_cast<size_t>(n * d), 0.0);
  for (int k = 0; k < r; ++k)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < d; ++j) W[i * d + j] += s[k] * U[k * n + i] * V[k * d + j];
  return W;
}

}  // namespace

TEST(CtBasis, NamesRoundTrip) {
  for (auto k : {BasisKind::Gaussian, BasisKind::Dct, BasisKind::Random, BasisKind::Svd, BasisKind::Universal})
    EXPECT_EQ(basis_from_name(basis_name(k)), k);
  EXPECT_FALSE(basis_from_name("wavelet").has_value());
}

TEST(CtBasis, DefinitionsMatchTheSpec) {
  const auto G = gaussian_basis(4, 100);  // mu = 0, 33, 66, 99; sigma = 25
  EXPECT_DOUBLE_EQ(G[0 * 100 + 0], 1.0);
  EXPECT_DOUBLE_EQ(G[1 * 100 + 33], 1.0);
  EXPECT_NEAR(G[1 * 100 + 58], std::exp(-0.5), 1e-15);
  EXPECT_NEAR(G[3 * 100 + 49], std::exp(-50.0 * 50.0 / (2 * 625.0)), 1e-15);
  const auto G1 = gaussian_basis(1, 11);  // K = 1: centred at (d-1)/2, sigma = d
  EXPECT_DOUBLE_EQ(G1[5], 1.0);
  EXPECT_NEAR(G1[0], std::exp(-25.0 / (2 * 121.0)), 1e-15);
  const auto D = dct_basis(3, 8);
  EXPECT_DOUBLE_EQ(D[0], 1.0);
  EXPECT_NEAR(D[2 * 8 + 3], std::cos(M_PI / 8 * 3.5 * 2), 1e-15);
  const auto R1 = random_basis(8, 1000, 42), R2 = random_basis(8, 1000, 42), R3 = random_basis(8, 1000, 43);
  EXPECT_EQ(R1, R2);
  EXPECT_NE(R1, R3);
  double m = 0, v = 0;
  for (double x : R1) m += x / 8000;
  for (double x : R1) v += (x - m) * (x - m) / 8000;
  EXPECT_NEAR(m, 0, 0.05);
  EXPECT_NEAR(v, 1, 0.05);
}

TEST(CtBasis, FactorizationReproducesTheBasis) {
  for (auto [K, d] : {std::pair{8, 300}, std::pair{64, 2048}}) {
    const auto f = make_fixed_basis(BasisKind::Gaussian, K, d);
    // Q orthonormal, Q R = B^T.
    double worst_orth = 0, worst_fact = 0;
    for (int a = 0; a < K; ++a)
      for (int b = 0; b < K; ++b) {
        double dot = 0, qr = 0;
        for (int64_t j = 0; j < d; ++j) dot += f.Q[j * K + a] * f.Q[j * K + b];
        worst_orth = std::max(worst_orth, std::abs(dot - (a == b)));
        (void)qr;
      }
    for (int64_t j = 0; j < d; ++j)
      for (int k = 0; k < K; ++k) {
        double s = 0;
        for (int l = 0; l <= k; ++l) s += f.Q[j * K + l] * f.R[l * K + k];
        worst_fact = std::max(worst_fact, std::abs(s - f.B[k * d + j]));
      }
    EXPECT_LT(worst_orth, 1e-12) << K;
    EXPECT_LT(worst_fact, 1e-12) << K;
    // Conditioning of the K = 64 Gaussians (neighbour overlap exp(-1/4)): modest.
    double rmax = 0, rmin = 1e300;
    for (int k = 0; k < K; ++k) {
      rmax = std::max(rmax, std::abs(f.R[k * K + k]));
      rmin = std::min(rmin, std::abs(f.R[k * K + k]));
    }
    EXPECT_LT(rmax / rmin, 1e3) << "K=" << K;
  }
}

TEST(CtBasis, BadShapesThrow) {
  EXPECT_THROW(make_fixed_basis(BasisKind::Gaussian, 10, 8), Error);
  try {
    make_fixed_basis(BasisKind::Gaussian, 10, 8);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gaussian K=10 d=8"), std::string::npos) << e.what();
  }
  std::vector<double> B = dct_basis(3, 16);
  for (int j = 0; j < 16; ++j) B[2 * 16 + j] = 2 * B[1 * 16 + j] - B[j];  // row 2 depends on rows 0, 1
  try {
    factor_basis(BasisKind::Dct, 3, 16, B);
    ADD_FAILURE() << "rank deficient basis accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank deficient"), std::string::npos) << e.what();
  }
  EXPECT_THROW(factor_basis(BasisKind::Dct, 3, 16, std::vector<double>(10)), Error);
  EXPECT_THROW(make_fixed_basis(BasisKind::Svd, 3, 16), Error);
  EXPECT_THROW(make_fixed_basis(BasisKind::Gaussian, 0, 16), Error);
}

TEST(CtAnchors, ExactGaussianCombinationsFitPerfectly) {
  for (auto [n, K, d] : {std::tuple{200, 8, 256}, std::tuple{100, 64, 2048}, std::tuple{40, 16, 300}}) {
    const auto B = ctref::gaussian_basis(K, d);
    ctref::Rng rng(5);
    ctref::Mat A(size_t(n) * K), W(size_t(n) * d, 0.0);
    for (auto& a : A) a = rng.normal();
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < K; ++k)
        for (int j = 0; j < d; ++j) W[size_t(i) * d + j] += A[size_t(i) * K + k] * B[size_t(k) * d + j];
    const auto Wf = to_float(W);
    const auto f = make_fixed_basis(BasisKind::Gaussian, K, d);
    const auto r = analyze(Wf, n, d, {&f});
    ASSERT_TRUE(r.error.empty());
    EXPECT_NEAR(r.fits[0].r2, 1.0, 1e-6) << "K=" << K << " d=" << d;
    // Amplitudes come back (through R^-T: the conditioning of the basis).
    std::vector<float> Af(size_t(n) * K);
    fit_amplitudes(view(Wf, n, d), f, Af.data());
    double amax = 0, err = 0;
    for (size_t i = 0; i < A.size(); ++i) {
      amax = std::max(amax, std::abs(A[i]));
      err = std::max(err, std::abs(double(Af[i]) - A[i]));
    }
    EXPECT_LT(err, 1e-4 * amax) << "K=" << K;
  }
}

TEST(CtAnchors, NoiseMatchesNullAndMarchenkoPastur) {
  const int64_t n = sanitized() ? 2000 : 8000, d = 64;
  ctref::Rng rng(9);
  std::vector<float> W(size_t(n * d));
  for (auto& w : W) w = float(rng.normal());
  const auto g8 = make_fixed_basis(BasisKind::Gaussian, 8, d), r8 = make_fixed_basis(BasisKind::Random, 8, d, 3);
  const auto r = analyze(W, n, d, {&g8, &r8});
  for (const auto& f : r.fits) {
    const double sd = (8.0 / d) * std::sqrt(2.0 / (8.0 * double(n)));  // chi2_{8n} / chi2_{dn}, approximately
    EXPECT_NEAR(f.r2, f.r2_null, 5 * sd) << basis_name(f.basis);
    EXPECT_DOUBLE_EQ(f.r2_null, 8.0 / 64.0);
  }
  const double mp = double(d) / (1 + double(d) / double(n));
  EXPECT_NEAR(r.weight_pr, mp, 0.02 * mp);
}

TEST(CtAnchors, EqualSingularValuesRankR) {
  for (auto [n, d] : {std::pair{300, 50}, std::pair{40, 120}}) {
    const int rank = 6;
    const auto W = to_float(low_rank(n, d, std::vector<double>(rank, 3.0), 17));
    const auto g4 = make_fixed_basis(BasisKind::Dct, 4, d), g6 = make_fixed_basis(BasisKind::Dct, 6, d),
               g8 = make_fixed_basis(BasisKind::Dct, 8, d);
    const auto r = analyze(W, n, d, {&g4, &g6, &g8}, true);
    ASSERT_TRUE(r.error.empty());
    EXPECT_NEAR(r.weight_pr, rank, 1e-4 * rank);
    EXPECT_NEAR(r.stable_rank, rank, 1e-3 * rank);
    EXPECT_NEAR(r.fits[0].r2_svd, 4.0 / rank, 1e-4);  // (SST = SS: mean-zero columns)
    EXPECT_NEAR(r.fits[1].r2_svd, 1.0, 1e-5);
    EXPECT_NEAR(r.fits[2].r2_svd, 1.0, 1e-5);
    ASSERT_TRUE(r.spectrum.has_value());
    EXPECT_EQ(r.spectrum->weight_n95, rank);
    // The zero singular values come back as sqrt(Gram rounding) ~ 1e-3 sigma_max
    // each (float Gram): the PR over sigmas of an exactly rank-deficient matrix
    // is only good to ~1e-2 here.
    EXPECT_NEAR(r.spectrum->weight_pr_sv, rank, 1e-2 * rank);
    EXPECT_NEAR(r.spectrum->eigenvalues[0], 9.0, 1e-4);
    EXPECT_NEAR(r.spectrum->eigenvalues[rank], 0.0, 1e-4);
    // The per-matrix SVD basis reaches it too.
    const auto sb = svd_basis(view(W, n, d), rank);
    const auto rs = analyze(W, n, d, {&sb});
    EXPECT_NEAR(rs.fits[0].r2, 1.0, 1e-5);
  }
}

TEST(CtAnchors, NanInfAndConstantAreReportedNotThrown) {
  const int64_t n = 30, d = 20;
  const auto f = make_fixed_basis(BasisKind::Gaussian, 4, d);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    for (auto [nn, dd] : {std::pair<int64_t, int64_t>{n, d}, std::pair<int64_t, int64_t>{10, d}}) {
      std::vector<float> W(size_t(nn * dd), 0.5f);
      W[7] = 1.f;
      W[size_t(nn * dd) - 3] = bad;
      MatrixResult r;
      EXPECT_NO_THROW(r = analyze(W, nn, dd, {&f}));
      EXPECT_EQ(r.error, "contains NaN or Inf");
    }
  }
  std::vector<uint16_t> Wb(size_t(n * d), f32_to_bf16(1.f));
  Wb[3] = 0x7fc0;  // BF16 NaN
  MatrixAnalysisOptions o;
  o.bases = {&f};
  EXPECT_EQ(analyze_matrix({DType::BF16, Wb.data(), n, d}, o).error, "contains NaN or Inf");
  std::vector<float> C(size_t(n * d), 0.25f);
  const auto rc = analyze(C, n, d, {&f});
  EXPECT_EQ(rc.error, "constant matrix (SST = 0)");
}

TEST(CtAnchors, MismatchedRowLengthThrows) {
  std::vector<float> W(10 * 20, 1.f);
  const auto f = make_fixed_basis(BasisKind::Gaussian, 4, 21);
  EXPECT_THROW(analyze(W, 10, 20, {&f}), Error);
  std::vector<float> A(10 * 4);
  EXPECT_THROW(fit_amplitudes(view(W, 10, 20), f, A.data()), Error);
  UniversalAccumulator acc(21);
  EXPECT_THROW(acc.add(view(W, 10, 20)), Error);
  EXPECT_THROW(acc.basis(4), Error);  // nothing added
  EXPECT_THROW(svd_basis(view(W, 10, 20), 21), Error);  // K > d
}

// A 10 x 20 matrix has 10 right singular vectors; K = 12 completes them with
// orthonormal directions, and the fit is exact.
TEST(CtAnchors, SvdBasisBeyondTheRankIsCompletedAndExact) {
  ctref::Rng rng(5);
  std::vector<float> W(10 * 20);
  for (auto& x : W) x = static_cast<float>(rng.normal());
  const auto b = svd_basis(view(W, 10, 20), 12);
  for (int i = 0; i < 12; ++i)
    for (int j = 0; j < 12; ++j) {
      double dot = 0;
      for (int c = 0; c < 20; ++c) dot += b.B[size_t(i * 20 + c)] * b.B[size_t(j * 20 + c)];
      EXPECT_NEAR(dot, i == j ? 1.0 : 0.0, 1e-6) << i << "," << j;  // singular vectors from a float Gram
    }
  const auto r = analyze(W, 10, 20, {&b});
  EXPECT_NEAR(r.fits[0].r2, 1.0, 1e-6);
}

TEST(CtAmplitudes, ReconstructionMatchesSse) {
  ctref::Rng rng(23);
  for (auto [n, d] : {std::pair<int64_t, int64_t>{120, 48}, std::pair<int64_t, int64_t>{20, 96}}) {
    std::vector<float> W(size_t(n * d));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < d; ++j)
        W[i * d + j] = float(std::sin(0.1 * double(j) * (1 + double(i % 5))) + 0.3 * rng.normal() + 0.1);
    UniversalAccumulator acc(d);
    acc.add(view(W, n, d));
    const auto bases = std::vector<FactoredBasis>{make_fixed_basis(BasisKind::Gaussian, 8, d),
                                                  make_fixed_basis(BasisKind::Dct, 16, d), acc.basis(6),
                                                  svd_basis(view(W, n, d), 5)};
    for (const auto& b : bases) {
      const auto r = analyze(W, n, d, {&b});
      std::vector<float> A(size_t(n) * b.K), Wh(size_t(n * d));
      fit_amplitudes(view(W, n, d), b, A.data());
      reconstruct(A.data(), n, b, Wh.data());
      double sse = 0;
      for (size_t i = 0; i < W.size(); ++i) sse += (double(W[i]) - Wh[i]) * (double(W[i]) - Wh[i]);
      EXPECT_NEAR(sse, r.fits[0].sse, 1e-4 * r.sst) << basis_name(b.kind);
    }
  }
}

TEST(CtAmplitudes, FullBasisReconstructsExactly) {
  const int64_t n = 50, d = 32;
  ctref::Rng rng(29);
  std::vector<float> W(size_t(n * d));
  for (auto& w : W) w = float(rng.normal());
  for (auto kind : {BasisKind::Dct, BasisKind::Random, BasisKind::Gaussian}) {
    const auto b = make_fixed_basis(kind, int(d), d);
    std::vector<float> A(size_t(n * d)), Wh(W.size());
    fit_amplitudes(view(W, n, d), b, A.data());
    reconstruct(A.data(), n, b, Wh.data());
    double err = 0;
    for (size_t i = 0; i < W.size(); ++i) err = std::max(err, std::abs(double(W[i]) - Wh[i]));
    EXPECT_LT(err, 1e-4) << basis_name(kind);
    const auto r = analyze(W, n, d, {&b});
    EXPECT_NEAR(r.fits[0].r2, 1.0, 1e-6) << basis_name(kind);
  }
}

TEST(CtAnchors, TinyShapesDoNotCrash) {
  const auto f1 = make_fixed_basis(BasisKind::Gaussian, 1, 1), g2 = make_fixed_basis(BasisKind::Dct, 2, 5);
  std::vector<float> col{1.f, 2.f, 4.f};
  const auto r1 = analyze(col, 3, 1, {&f1}, true);  // 3 x 1
  ASSERT_TRUE(r1.error.empty()) << r1.error;
  EXPECT_NEAR(r1.fits[0].r2, 1.0, 1e-12);
  std::vector<float> row{1.f, 2.f, 4.f, 0.f, -1.f};
  const auto r2 = analyze(row, 1, 5, {&g2}, true);  // 1 x 5: centered Gram is 0
  ASSERT_TRUE(r2.error.empty()) << r2.error;
  EXPECT_EQ(r2.weight_pr, 0.0);
  EXPECT_GT(r2.fits[0].r2, 0.0);
  EXPECT_NEAR(r2.fits[0].r2_svd, 1.0, 1e-9);  // one row: one direction explains it
}
