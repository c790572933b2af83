// The AVX-512 BF16 dot-product Gram kernel (gram_bf16dot) and the portable
// path (BF16 converted to float, SSYRK) against a double-precision reference
// on tall and wide BF16 matrices of odd sizes (none a multiple of the kernel's
// 48-wide blocks, 16-index groups, 128-pair k steps or panel depth). BF16
// products are exact in FP32, so the only error is the FP32 accumulation:
// at most (terms summed in float) x 2^-24 x sum_k |x_ki x_kj| per entry, and
// far below that in practice.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bf16_fixtures.hpp"
#include "io/dtype.hpp"
#include "linalg/gram.hpp"
#include "linalg/gram_amx.hpp"
#include "linalg/gram_bf16dot.hpp"
#include "util/cpu_features.hpp"

using namespace ctscope;
using namespace ctscope::linalg;
using ctscope::test_support::expect_projection;
using ctscope::test_support::random_bf16;

namespace {

// Sets the switches of one Gram path for its lifetime (and clears them after).
class Path {
 public:
  enum Kind { avx512bf16, portable };
  explicit Path(Kind k) {
    setenv("CTSCOPE_NO_AMX", "1", 1);
    setenv("CTSCOPE_AVX512BF16", k == avx512bf16 ? "1" : "0", 1);
  }
  ~Path() {
    unsetenv("CTSCOPE_NO_AMX");
    unsetenv("CTSCOPE_AVX512BF16");
  }
  Path(const Path&) = delete;
  Path& operator=(const Path&) = delete;
};

// The double reference: G = W^T W (row_gram) or W W^T, and the same sums
// over |x_ki x_kj| (the scale of the float rounding), full m x m.
struct Reference {
  int64_t m = 0;
  std::vector<double> G, absG, colsum;
  double ss = 0, sum = 0;
};
Reference reference(const std::vector<uint16_t>& W, int64_t n, int64_t d, bool row_gram) {
  Reference r;
  r.m = row_gram ? d : n;
  const int64_t k = row_gram ? n : d, m = r.m;
  std::vector<double> v(W.size());
  for (size_t i = 0; i < W.size(); ++i) v[i] = bf16_to_f32(W[i]);
  auto at = [&](int64_t kk, int64_t i) { return row_gram ? v[kk * d + i] : v[i * d + kk]; };
  r.G.assign(static_cast<size_t>(m * m), 0.0);
  r.absG = r.G;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = i; j < m; ++j) {
      double s = 0, a = 0;
      for (int64_t kk = 0; kk < k; ++kk) {
        s += at(kk, i) * at(kk, j);
        a += std::abs(at(kk, i) * at(kk, j));
      }
      r.G[i * m + j] = s;
      r.absG[i * m + j] = a;
    }
  r.colsum.assign(static_cast<size_t>(d), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) {
      r.colsum[j] += v[i * d + j];
      r.ss += v[i * d + j] * v[i * d + j];
    }
  for (double c : r.colsum) r.sum += c;
  return r;
}

// Tall (n > d) and wide, none a multiple of 16 or 48; 5000 rows span two
// panels and a flush into double; 1100 > 2 x 128 pairs of k.
struct Size {
  int64_t n, d;
};
const Size kSizes[] = {{37, 70}, {301, 129}, {1000, 211}, {70, 1100}, {5000, 33}, {97, 517}, {1, 3}};

// Every entry of the upper triangle within the accumulation bound; returns the largest error.
double check_gram(const GramPass& g, const Reference& r, int64_t flush_terms) {
  const double u = std::ldexp(1.0, -24);
  double worst = 0;
  for (int64_t i = 0; i < r.m; ++i)
    for (int64_t j = i; j < r.m; ++j) {
      const size_t e = static_cast<size_t>(i * r.m + j);
      const double err = std::abs(g.G[e] - r.G[e]);
      EXPECT_LE(err, static_cast<double>(flush_terms) * u * r.absG[e] + 1e-30) << i << "," << j;
      worst = std::max(worst, err);
    }
  return worst;
}

}  // namespace

TEST(GramBf16Dot, PathsMatchDoubleReference) {
  const bool dot = cpu_features().avx512_bf16;
  if (!dot) std::printf("[ note ] this CPU lacks AVX512_BF16: only the portable path is checked\n");
  uint32_t seed = 1;
  for (const auto& s : kSizes) {
    const auto W = random_bf16(s.n, s.d, seed++);
    const MatrixView v{DType::BF16, W.data(), s.n, s.d};
    for (bool row_gram : {true, false}) {
      if (!row_gram && s.n > 2000) continue;  // a 5000 x 5000 Gram adds nothing
      SCOPED_TRACE("n=" + std::to_string(s.n) + " d=" + std::to_string(s.d) + " row_gram=" + std::to_string(row_gram));
      const Reference r = reference(W, s.n, s.d, row_gram);
      GramPass p;
      {
        Path off(Path::portable);
        p = gram_pass(v, row_gram);
      }
      const double scale = *std::max_element(r.absG.begin(), r.absG.end());
      // 4096 rows (or columns) are summed in float before each flush into double.
      const double err_p = check_gram(p, r, 4096);
      EXPECT_LE(err_p, 1e-5 * scale);
      if (!dot) continue;
      GramPass a;
      {
        Path on(Path::avx512bf16);
        ASSERT_TRUE(bf16dot::available());
        a = gram_pass(v, row_gram);
      }
      ASSERT_EQ(a.m, r.m);
      const double err_a = check_gram(a, r, 4096);
      // As accurate as SSYRK: both sum exact products in FP32, in different orders.
      EXPECT_LE(err_a, 1e-5 * scale);
      EXPECT_LE(err_a, 4 * err_p + 1e-7 * scale) << "max error AVX-512 BF16 " << err_a << ", SSYRK " << err_p;
      // The statistics are exact sums in double on both paths, up to order.
      EXPECT_NEAR(a.ss, r.ss, 1e-12 * r.ss);
      EXPECT_NEAR(a.sum, r.sum, 1e-12 * r.ss);
      for (int64_t j = 0; j < s.d; ++j) ASSERT_NEAR(a.colsum[j], r.colsum[j], 1e-12 * r.ss + 1e-300) << j;
      EXPECT_NEAR(p.ss, r.ss, 1e-12 * r.ss);
      EXPECT_TRUE(a.finite);
    }
  }
}

// The raw kernel on a wider buffer: calls accumulate, and nothing is written
// beyond m or below the diagonal blocks.
TEST(GramBf16Dot, KernelAccumulatesWithinItsBlocks) {
  if (!cpu_features().avx512_bf16) GTEST_SKIP() << "this CPU lacks AVX512_BF16 (vdpbf16ps): nothing to check";
  const int64_t n = 45, d = 101, ld = d + 9;
  const auto W = random_bf16(n, d, 99);
  const Reference r = reference(W, n, d, true);
  std::vector<float> G(static_cast<size_t>(d * ld), 0.f);
  bf16dot::Scratch s;
  std::vector<double> colsum(static_cast<size_t>(d), 0.0);
  PanelStats st{colsum.data()};
  bf16dot::gram_tn(W.data(), 21, d, d, G.data(), ld, s, st);  // rows 0..20, then 21..44 (odd k both times)
  bf16dot::gram_tn(W.data() + 21 * d, n - 21, d, d, G.data(), ld, s, st);
  for (int64_t j = 0; j < d; ++j) ASSERT_NEAR(colsum[j], r.colsum[j], 1e-13) << j;
  EXPECT_NEAR(st.ss, r.ss, 1e-13 * r.ss);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < ld; ++j) {
      const float g = G[static_cast<size_t>(i * ld + j)];
      if (j >= d || j < i / bf16dot::kBlock * bf16dot::kBlock) {
        ASSERT_EQ(g, 0.f) << i << "," << j;
      } else if (j >= i) {
        ASSERT_NEAR(g, r.G[i * d + j], 64 * std::ldexp(1.0, -24) * r.absG[i * d + j] + 1e-30) << i << "," << j;
      }
    }
  // Wide: G = X X^T over the first 40 rows, k = 101 columns.
  const int64_t mw = 40;
  const Reference rw = reference(std::vector<uint16_t>(W.begin(), W.begin() + mw * d), mw, d, false);
  std::vector<float> Gw(static_cast<size_t>(mw * mw), 0.f);
  std::vector<double> colsum_w(static_cast<size_t>(d), 0.0);
  PanelStats st_w{colsum_w.data()};
  bf16dot::gram_nt(W.data(), mw, d, d, Gw.data(), mw, s, st_w);
  for (int64_t j = 0; j < d; ++j) ASSERT_NEAR(colsum_w[j], rw.colsum[j], 1e-13) << j;
  for (int64_t i = 0; i < mw; ++i)
    for (int64_t j = i; j < mw; ++j)
      ASSERT_NEAR(Gw[static_cast<size_t>(i * mw + j)], rw.G[i * mw + j],
                  128 * std::ldexp(1.0, -24) * rw.absG[i * mw + j] + 1e-30);
}

// The kernel is the default on AMD CPUs that have it; CTSCOPE_AVX512BF16=1 or
// =0 overrides, read on every call.
TEST(GramBf16Dot, KernelIsChosenByVendorOrEnvironment) {
  const CpuFeatures& cpu = cpu_features();
  {
    Path on(Path::avx512bf16);
    EXPECT_EQ(bf16dot::available(), cpu.avx512_bf16);
  }
  {
    Path off(Path::portable);
    EXPECT_FALSE(bf16dot::available());
  }
  EXPECT_EQ(bf16dot::available(), cpu.avx512_bf16 && cpu.amd);
  setenv("CTSCOPE_AVX512BF16", "", 1);  // empty: as if unset
  EXPECT_EQ(bf16dot::available(), cpu.avx512_bf16 && cpu.amd);
  unsetenv("CTSCOPE_AVX512BF16");
}

// One GramPass reused for matrices of other sides (as a lane reuses it along a
// model: 2048, 256, 256, 2048 ... in TinyLlama) gives bit for bit what a fresh
// one gives: its buffers only grow, and the float scratch is all zero between
// passes whatever row stride it had.
TEST(GramBf16Dot, APassReusedAcrossSidesEqualsAFreshOne) {
  const Size sizes[] = {{300, 211}, {90, 37}, {60, 129}, {300, 211}, {40, 300}};
  for (const int kind : {-1, int{Path::avx512bf16}, int{Path::portable}}) {  // -1: AMX (padded rows of 32)
    if (kind == -1 && !amx::available()) continue;
    if (kind == Path::avx512bf16 && !cpu_features().avx512_bf16) continue;
    std::optional<Path> path;
    if (kind >= 0) path.emplace(static_cast<Path::Kind>(kind));
    GramPass reused;
    uint32_t seed = 7;
    for (const auto& s : sizes) {
      const auto W = random_bf16(s.n, s.d, seed++);
      const MatrixView v{DType::BF16, W.data(), s.n, s.d};
      for (bool row_gram : {true, false}) {
        SCOPED_TRACE("kind=" + std::to_string(kind) + " n=" + std::to_string(s.n) + " d=" + std::to_string(s.d) +
                     " row_gram=" + std::to_string(row_gram));
        const GramPass fresh = gram_pass(v, row_gram);
        gram_pass(v, row_gram, nullptr, 0, reused);
        ASSERT_EQ(reused.m, fresh.m);
        for (int64_t i = 0; i < fresh.m; ++i)
          for (int64_t j = i; j < fresh.m; ++j)
            ASSERT_EQ(reused.G[static_cast<size_t>(i * fresh.m + j)], fresh.G[static_cast<size_t>(i * fresh.m + j)])
                << i << "," << j;
        EXPECT_EQ(reused.ss, fresh.ss);
        EXPECT_EQ(reused.colsum, fresh.colsum);
        EXPECT_TRUE(std::all_of(reused.Gf.begin(), reused.Gf.end(), [](float x) { return x == 0.f; }));
      }
    }
  }
}

// Y = X Q with Q in three BF16 parts against the double reference: odd row
// counts (partial 4-row tiles), odd k (a half pair at the end), offsets into
// Q, kq needing 1 to 6 vectors of 16 (two column groups), more than one
// 64-pair sweep, a reused Projection repacked for a new Q, and Y's columns
// past kq zero.
TEST(GramBf16Dot, ProjectionMatchesDoubleReference) {
  if (!cpu_features().avx512_bf16) GTEST_SKIP() << "this CPU lacks AVX512_BF16 (vdpbf16ps): nothing to check";
  const int64_t n = 45, d = 301;
  const auto W = random_bf16(n, d, 17);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 1.f);
  bf16dot::Projection pj;
  for (int kq : {1, 72, 72, 90}) {
    SCOPED_TRACE("kq=" + std::to_string(kq));
    std::vector<float> Q(static_cast<size_t>(d * kq));
    for (auto& q : Q) q = nd(rng) * (1.f + 1e-3f * nd(rng));  // all 24 significand bits in use
    bf16dot::pack_projection(Q.data(), d, kq, pj);
    for (const auto& [k0, k] : {std::pair<int64_t, int64_t>{0, d}, {32, 171}, {128, 7}, {300, 1}}) {
      const int64_t ldy = pj.ycols() + 3;
      std::vector<float> Y(static_cast<size_t>(n * ldy), -7.f);
      bf16dot::project(W.data() + k0, n, k, d, pj, k0, Y.data(), ldy);
      expect_projection(W, n, d, Q, kq, k0, k, Y, ldy, pj.ycols());
      for (int64_t i = 0; i < n; ++i)
        for (int64_t c = pj.ycols(); c < ldy; ++c) ASSERT_EQ(Y[i * ldy + c], -7.f) << "written past ycols";
    }
  }
}
