// The AMX-BF16 Gram kernel against the SSYRK path (CTSCOPE_NO_AMX=1) and an
// exact double reference, on awkward tall and wide sizes; analyze_matrix
// results must not depend on the path.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "ct/basis.hpp"
#include "linalg/gram.hpp"
#include "linalg/gram_amx.hpp"
#include "ct/matrix_analysis.hpp"
#include "bf16_fixtures.hpp"
#include "io/dtype.hpp"

using namespace ctscope;
using namespace ctscope::ct;
using namespace ctscope::linalg;
using ctscope::test_support::expect_projection;
using ctscope::test_support::random_bf16;

namespace {

// Sets CTSCOPE_NO_AMX=1 and CTSCOPE_AVX512BF16=0 for its lifetime: the SSYRK
// path (the dot-product kernel is test_gram_bf16dot's).
struct NoAmx {
  NoAmx() {
    setenv("CTSCOPE_NO_AMX", "1", 1);
    setenv("CTSCOPE_AVX512BF16", "0", 1);
  }
  ~NoAmx() {
    unsetenv("CTSCOPE_NO_AMX");
    unsetenv("CTSCOPE_AVX512BF16");
  }
};

bool amx_or_skip() {
  unsetenv("CTSCOPE_NO_AMX");
  return amx::available();
}

// Upper triangle of W^T W (row_gram) or W W^T in double: BF16 products are
// exact in double and the sums nearly so.
std::vector<double> reference_gram(const std::vector<uint16_t>& W, int64_t n, int64_t d, bool row_gram) {
  const int64_t m = row_gram ? d : n, k = row_gram ? n : d;
  std::vector<double> v(W.size());
  for (size_t i = 0; i < W.size(); ++i) v[i] = bf16_to_f32(W[i]);
  auto at = [&](int64_t kk, int64_t i) { return row_gram ? v[kk * d + i] : v[i * d + kk]; };
  std::vector<double> G(static_cast<size_t>(m * m), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = i; j < m; ++j) {
      double s = 0;
      for (int64_t kk = 0; kk < k; ++kk) s += at(kk, i) * at(kk, j);
      G[i * m + j] = s;
    }
  return G;
}

struct Size {
  int64_t n, d;
};
const Size kSizes[] = {{37, 70}, {300, 129}, {1000, 640}, {70, 1100}, {5000, 33}, {16, 48}};

}  // namespace

TEST(CtAmx, GramMatchesSsyrkAndReference) {
  if (!amx_or_skip()) GTEST_SKIP() << "AMX-BF16 unavailable (CPU, kernel permission or CTSCOPE_NO_AMX)";
  uint32_t seed = 1;
  for (const auto [n, d] : kSizes) {
    const auto W = random_bf16(n, d, seed++);
    const MatrixView v{DType::BF16, W.data(), n, d};
    for (bool row_gram : {true, false}) {
      if (!row_gram && n > 2000) continue;  // a 5000 x 5000 Gram adds nothing
      SCOPED_TRACE("n=" + std::to_string(n) + " d=" + std::to_string(d) + " row_gram=" + std::to_string(row_gram));
      const GramPass a = gram_pass(v, row_gram);
      GramPass s;
      {
        NoAmx off;
        s = gram_pass(v, row_gram);
      }
      const auto ref = reference_gram(W, n, d, row_gram);
      const int64_t m = a.m;
      ASSERT_EQ(m, s.m);
      double scale = 0, err_a = 0, err_s = 0;
      for (int64_t i = 0; i < m; ++i) scale = std::max(scale, ref[i * m + i]);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = i; j < m; ++j) {
          const size_t e = static_cast<size_t>(i * m + j);
          ASSERT_NEAR(a.G[e], s.G[e], 1e-5 * scale) << i << "," << j;
          ASSERT_NEAR(a.G[e], ref[e], 1e-5 * scale) << i << "," << j;
          err_a = std::max(err_a, std::abs(a.G[e] - ref[e]));
          err_s = std::max(err_s, std::abs(s.G[e] - ref[e]));
        }
      // No less accurate than SSYRK (both sum in FP32, in different orders).
      EXPECT_LE(err_a, 4 * err_s + 1e-7 * scale) << "max error AMX " << err_a << " SSYRK " << err_s;
      EXPECT_NEAR(a.ss, s.ss, 1e-12 * s.ss);
      EXPECT_NEAR(a.sum, s.sum, 1e-12 * std::abs(s.ss));
      for (int64_t j = 0; j < d; ++j) EXPECT_NEAR(a.colsum[j], s.colsum[j], 1e-12 * std::abs(s.ss)) << j;
      EXPECT_TRUE(a.finite);
    }
  }
}

// The raw kernels on a padded accumulator: nothing outside the block upper
// triangle or beyond m is written, and calls accumulate.
TEST(CtAmx, KernelsAccumulateInPaddedBuffer) {
  if (!amx_or_skip()) GTEST_SKIP() << "AMX-BF16 unavailable (CPU, kernel permission or CTSCOPE_NO_AMX)";
  const int64_t n = 45, d = 70, m = d, ld = amx::padded(m) + 8;
  const auto W = random_bf16(n, d, 99);
  const auto ref = reference_gram(W, n, d, true);
  std::vector<float> G(static_cast<size_t>(amx::padded(m) * ld), 0.f);
  amx::Scratch s;
  std::vector<double> colsum(static_cast<size_t>(d), 0.0);
  amx::PanelStats st{colsum.data()};
  amx::gram_tn(W.data(), 20, d, d, G.data(), ld, s, st);  // rows 0..19, then 20..44
  amx::gram_tn(W.data() + 20 * d, n - 20, d, d, G.data(), ld, s, st);
  // The statistics taken while packing, against plain double sums.
  double ss = 0, sum = 0;
  for (int64_t j = 0; j < d; ++j) {
    double c = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double v = bf16_to_f32(W[i * d + j]);
      c += v;
      ss += v * v;
    }
    sum += c;
    ASSERT_NEAR(colsum[j], c, 1e-13) << j;
  }
  EXPECT_NEAR(st.ss, ss, 1e-13 * ss);
  EXPECT_NEAR(st.sum, sum, 1e-13 * ss);
  for (int64_t i = 0; i < amx::padded(m); ++i)
    for (int64_t j = 0; j < ld; ++j) {
      const float g = G[static_cast<size_t>(i * ld + j)];
      if (i < m && j < m && j >= i) {
        ASSERT_NEAR(g, ref[i * m + j], 1e-5 * ref[0] + 1e-6) << i << "," << j;
      } else if (i >= m || j >= m) {
        ASSERT_EQ(g, 0.f) << i << "," << j;
      }
    }
  // Wide form on the transpose-free side: G = X X^T for the first 40 rows.
  const int64_t mw = 40;
  const auto refw = reference_gram(std::vector<uint16_t>(W.begin(), W.begin() + mw * d), mw, d, false);
  std::vector<float> Gw(static_cast<size_t>(amx::padded(mw) * amx::padded(mw)), 0.f);
  std::vector<double> colsum_w(static_cast<size_t>(d), 0.0);
  amx::PanelStats st_w{colsum_w.data()};
  amx::gram_nt(W.data(), mw, d, d, Gw.data(), amx::padded(mw), s, st_w);
  for (int64_t j = 0; j < d; ++j) {
    double c = 0;
    for (int64_t i = 0; i < mw; ++i) c += bf16_to_f32(W[i * d + j]);
    ASSERT_NEAR(colsum_w[j], c, 1e-13) << j;
  }
  for (int64_t i = 0; i < mw; ++i)
    for (int64_t j = i; j < mw; ++j)
      ASSERT_NEAR(Gw[static_cast<size_t>(i * amx::padded(mw) + j)], refw[i * mw + j], 1e-5 * refw[0] + 1e-6);
}

// X Q with Q split into three BF16 parts: as accurate as float arithmetic
// (relative 1e-6 of the row's |X| |Q| scale) against a double reference, on
// ragged rows (45), a ragged k (70) and k0 > 0, for kq of 1, 72 (5 column
// tiles, twice with different Q) and 90 (two groups of tiles); Y's padding
// columns come out zero.
TEST(CtAmx, ProjectionMatchesDoubleReference) {
  if (!amx_or_skip()) GTEST_SKIP() << "AMX-BF16 unavailable (CPU, kernel permission or CTSCOPE_NO_AMX)";
  const int64_t n = 45, d = 134;
  const auto W = random_bf16(n, d, 7);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 1.f);
  amx::ProjectionTiles pt;  // reused: a new Q of the same shape must be repacked
  for (int kq : {1, 72, 72, 90}) {
    SCOPED_TRACE("kq=" + std::to_string(kq));
    std::vector<float> Q(static_cast<size_t>(d * kq));
    for (auto& q : Q) q = nd(rng) * (1.f + 1e-3f * nd(rng));  // all 24 significand bits in use
    amx::pack_projection(Q.data(), d, kq, pt);
    for (const auto& [k0, k] : {std::pair<int64_t, int64_t>{0, d}, {32, 70}, {128, 6}}) {
      const int64_t ldy = pt.ycols() + 3;
      std::vector<float> Y(static_cast<size_t>(n * ldy), -7.f);
      amx::project(W.data() + k0, n, k, d, pt, k0, Y.data(), ldy);
      expect_projection(W, n, d, Q, kq, k0, k, Y, ldy, pt.ycols());
    }
  }
}

TEST(CtAmx, AnalyzeMatrixSameWithAndWithoutAmx) {
  if (!amx_or_skip()) GTEST_SKIP() << "AMX-BF16 unavailable (CPU, kernel permission or CTSCOPE_NO_AMX)";
  uint32_t seed = 40;
  for (const auto [n, d] : kSizes) {
    SCOPED_TRACE("n=" + std::to_string(n) + " d=" + std::to_string(d));
    const auto W = random_bf16(n, d, seed++);
    const MatrixView v{DType::BF16, W.data(), n, d};
    std::vector<FactoredBasis> b;
    for (int K : {2, 8}) b.push_back(make_fixed_basis(BasisKind::Dct, std::min<int>(K, static_cast<int>(d)), d));
    b.push_back(make_fixed_basis(BasisKind::Gaussian, 4, d));
    // kq = 110 where d allows: W Q takes two groups of AMX column tiles.
    if (d >= 64)
      for (int K : {32, 64}) b.push_back(make_fixed_basis(BasisKind::Gaussian, K, d));
    MatrixAnalysisOptions opt;
    for (const auto& x : b) opt.bases.push_back(&x);
    const MatrixResult a = analyze_matrix(v, opt);
    MatrixResult s;
    {
      NoAmx off;
      s = analyze_matrix(v, opt);
    }
    ASSERT_TRUE(a.error.empty()) << a.error;
    EXPECT_NEAR(a.weight_pr, s.weight_pr, 1e-6 * std::max(1.0, s.weight_pr));
    EXPECT_NEAR(a.ss, s.ss, 1e-12 * s.ss);
    ASSERT_EQ(a.fits.size(), s.fits.size());
    for (size_t i = 0; i < a.fits.size(); ++i) {
      EXPECT_NEAR(a.fits[i].r2, s.fits[i].r2, 1e-6) << i;
      EXPECT_NEAR(a.fits[i].r2_svd, s.fits[i].r2_svd, 1e-6) << i;
      EXPECT_NEAR(a.fits[i].amplitude_pr, s.fits[i].amplitude_pr, 1e-6 * std::max(1.0, s.fits[i].amplitude_pr)) << i;
    }
  }
}

// F32 checkpoints stay on SSYRK: no BF16 rounding sneaks in.
TEST(CtAmx, F32StaysExactFloat) {
  const int64_t n = 64, d = 48;
  std::vector<float> W(static_cast<size_t>(n * d));
  for (size_t i = 0; i < W.size(); ++i) W[i] = 1.0f + 1e-6f * static_cast<float>(i % 7);  // not BF16-representable
  const GramPass g = gram_pass(MatrixView{DType::F32, W.data(), n, d}, true);
  double ref = 0;
  for (int64_t k = 0; k < n; ++k) ref += double(W[k * d + 1]) * double(W[k * d + 1]);
  EXPECT_NEAR(g.G[1 * d + 1], ref, 1e-6 * ref);
  EXPECT_GT(std::abs(g.G[1 * d + 1] - double(n)), 1e-5);  // BF16 rounding would give exactly n
}
