// analyze_matrix against the naive double reference of ct_reference.hpp on
// small structured matrices: tall and wide, F32/BF16/F16, every basis kind.
#include <gtest/gtest.h>
#include <lapacke.h>

#include <cstdlib>
#include <cstring>

#include "ct/basis.hpp"
#include "ct/matrix_analysis.hpp"
#include "ct/svd_basis.hpp"
#include "ct/universal_basis.hpp"
#include "linalg/topk_eigen.hpp"
#include "ct_reference.hpp"
#include "io/dtype.hpp"

using namespace ctscope;
using namespace ctscope::ct;
using namespace ctscope::linalg;

namespace {

bool sanitized() { return std::getenv("CTSCOPE_SANITIZED") != nullptr; }

// Low-rank smooth structure with a decaying spectrum, column bias and noise.
ctref::Mat structured(int64_t n, int64_t d, uint64_t seed, int rank = 12, double noise = 0.3) {
  ctref::Rng rng(seed);
  ctref::Mat W(n * d, 0.0), bias(d);
  for (auto& b : bias) b = 0.2 * rng.normal();
  for (int r = 0; r < rank; ++r) {
    const double s = std::pow(r + 1.0, -0.8), f = 0.5 + r, ph = rng.uniform() * 6;
    std::vector<double> a(n);
    for (auto& x : a) x = rng.normal();
    for (int64_t j = 0; j < d; ++j) {
      const double h = std::sin(f * 6.28 * double(j) / double(d) + ph) + 0.3 * rng.normal();
      for (int64_t i = 0; i < n; ++i) W[i * d + j] += s * a[i] * h;
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) W[i * d + j] += bias[j] + noise * rng.normal();
  return W;
}

// Store W in dtype; return the stored bytes and overwrite W with the values
// the stored form really holds (the reference must see the same numbers).
std::vector<uint8_t> store(ctref::Mat& W, DType t) {
  std::vector<uint8_t> out;
  if (t == DType::F32) {
    out.resize(W.size() * 4);
    for (size_t i = 0; i < W.size(); ++i) {
      const float f = static_cast<float>(W[i]);
      std::memcpy(out.data() + 4 * i, &f, 4);
      W[i] = f;
    }
  } else {
    out.resize(W.size() * 2);
    for (size_t i = 0; i < W.size(); ++i) {
      const float f = static_cast<float>(W[i]);
      const uint16_t h = t == DType::BF16 ? f32_to_bf16(f) : f32_to_f16(f);
      std::memcpy(out.data() + 2 * i, &h, 2);
      W[i] = t == DType::BF16 ? bf16_to_f32(h) : f16_to_f32(h);
    }
  }
  return out;
}

std::vector<double> lapack_eigs(ctref::Mat A, int64_t m) {
  std::vector<double> w(m);
  EXPECT_EQ(LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', (int)m, A.data(), (int)m, w.data()), 0);
  std::sort(w.rbegin(), w.rend());
  return w;
}

void expect_rel(double got, double want, double rel, const char* what) {
  EXPECT_NEAR(got, want, rel * std::abs(want)) << what;
}

void expect_n95(int got, int want, const std::vector<double>& lam, const char* what) {
  if (got == want) return;
  // Off by one only where the cumulative sum sits on the 95% threshold.
  double tot = 0, cum = 0;
  for (double l : lam) tot += std::max(l, 0.0);
  for (int i = 0; i < std::min(got, want); ++i) cum += std::max(lam[i], 0.0);
  EXPECT_EQ(std::abs(got - want), 1) << what;
  EXPECT_NEAR(cum, 0.95 * tot, 1e-6 * tot) << what << " differs away from the threshold";
}

struct Case {
  int64_t n, d;
  DType dtype;
  uint64_t seed;
};

// Compare every number for the given bases (reference B and offset taken from
// the basis definition: the basis is the spec, the numerics are under test).
void check(const Case& c, const std::vector<const FactoredBasis*>& bases, bool spectrum, bool jacobi = true,
           int rank = 12, double noise = 0.3) {
  ctref::Mat W = structured(c.n, c.d, c.seed, rank, noise);
  const auto bytes = store(W, c.dtype);
  const MatrixView v{c.dtype, bytes.data(), c.n, c.d};
  MatrixAnalysisOptions opt;
  opt.bases = bases;
  opt.spectrum = spectrum;
  const MatrixResult r = analyze_matrix(v, opt);
  ASSERT_TRUE(r.error.empty()) << r.error;
  if (std::min(c.n, c.d) > 512) {
    EXPECT_GT(r.krylov_dim, 0) << "expected the block Lanczos path";
  }
  const auto ref = jacobi ? ctref::analyze(W, c.n, c.d, ctref::jacobi_eigvals) : ctref::analyze(W, c.n, c.d, lapack_eigs);
  expect_rel(r.ss, ref.ss, 1e-9, "ss");
  EXPECT_NEAR(r.sum, ref.sum, 1e-9 * ref.ss);
  expect_rel(r.sst, ref.sst, 1e-9, "sst");
  expect_rel(r.weight_pr, ref.weight_pr, 1e-3, "weight_pr");
  expect_rel(r.stable_rank, ref.stable_rank, 1e-3, "stable_rank");
  ASSERT_EQ(r.fits.size(), bases.size());
  for (size_t i = 0; i < bases.size(); ++i) {
    const auto& b = *bases[i];
    SCOPED_TRACE(::testing::Message() << basis_name(b.kind) << " K=" << b.K << " n=" << c.n << " d=" << c.d << " "
                                      << dtype_name(c.dtype));
    // The reference builds gaussian and dct bases from the formula itself.
    const ctref::Mat B = b.kind == BasisKind::Gaussian ? ctref::gaussian_basis(b.K, c.d)
                         : b.kind == BasisKind::Dct    ? ctref::dct_basis(b.K, c.d)
                                                       : b.B;
    const auto f = ctref::fit(W, c.n, c.d, B, b.K, b.offset, ref);
    const auto& g = r.fits[i];
    EXPECT_EQ(g.K, b.K);
    EXPECT_NEAR(g.r2, f.r2, 1e-4);
    EXPECT_NEAR(g.sse, f.sse, 1e-4 * ref.sst);
    EXPECT_NEAR(g.r2_svd, f.r2_svd, 1e-4);
    EXPECT_DOUBLE_EQ(g.r2_null, double(b.K) / double(c.d));
    expect_rel(g.amplitude_pr, f.amplitude_pr, 1e-3, "amplitude_pr");
    expect_n95(g.amplitude_n95, f.amplitude_n95, f.lam, "amplitude_n95");
  }
  if (spectrum) {
    ASSERT_TRUE(r.spectrum.has_value());
    const auto& e = r.spectrum->eigenvalues;
    ASSERT_EQ(e.size(), ref.centered_eigs.size());
    for (size_t i = 0; i < e.size(); ++i) EXPECT_NEAR(e[i], ref.centered_eigs[i], 1e-5 * ref.centered_eigs[0]) << i;
    expect_rel(r.spectrum->weight_pr_sv, ref.weight_pr_sv, 1e-3, "weight_pr_sv");
    expect_n95(r.spectrum->weight_n95, ref.weight_n95, ref.centered_eigs, "weight_n95");
  }
}

std::vector<FactoredBasis> fixed_bases(int64_t d) {
  std::vector<FactoredBasis> v;
  for (int K : {2, 4, 8, 16}) v.push_back(make_fixed_basis(BasisKind::Gaussian, K, d));
  v.push_back(make_fixed_basis(BasisKind::Dct, 8, d));
  v.push_back(make_fixed_basis(BasisKind::Dct, 16, d));
  v.push_back(make_fixed_basis(BasisKind::Random, 4, d, 7));
  v.push_back(make_fixed_basis(BasisKind::Random, 16, d, 7));
  return v;
}

std::vector<const FactoredBasis*> ptrs(const std::vector<FactoredBasis>& v) {
  std::vector<const FactoredBasis*> p;
  for (const auto& b : v) p.push_back(&b);
  return p;
}

}  // namespace

TEST(CtReference, TallF32AllFixedBases) {
  const auto b = fixed_bases(48);
  check({300, 48, DType::F32, 1}, ptrs(b), true);
}

TEST(CtReference, WideBf16AllFixedBases) {
  const auto b = fixed_bases(96);
  check({40, 96, DType::BF16, 2}, ptrs(b), true);
}

TEST(CtReference, TallF16AndWideF16) {
  const auto b = fixed_bases(64);
  check({150, 64, DType::F16, 3}, ptrs(b), false);
  check({50, 64, DType::F16, 4}, ptrs(b), true);
}

TEST(CtReference, SvdBasisMatchesReferenceAndBaseline) {
  for (Case c : {Case{200, 40, DType::F32, 5}, Case{30, 72, DType::BF16, 6}}) {
    ctref::Mat W = structured(c.n, c.d, c.seed);
    const auto bytes = store(W, c.dtype);
    const MatrixView v{c.dtype, bytes.data(), c.n, c.d};
    std::vector<FactoredBasis> b;
    for (int K : {2, 4, 8, 16}) b.push_back(svd_basis(v, K));
    check(c, ptrs(b), false);
    MatrixAnalysisOptions opt;
    opt.bases = ptrs(b);
    const auto r = analyze_matrix(v, opt);
    for (const auto& f : r.fits) EXPECT_NEAR(f.r2, f.r2_svd, 1e-5) << "svd basis reaches the svd baseline, K=" << f.K;
  }
}

TEST(CtReference, UniversalBasisWithOffset) {
  const int64_t d = 56;
  UniversalAccumulator acc(d);
  std::vector<std::vector<uint8_t>> keep;
  for (uint64_t s : {11, 12, 13}) {
    ctref::Mat W = structured(80 + 20 * s % 7, d, s);
    keep.push_back(store(W, DType::BF16));
    acc.add({DType::BF16, keep.back().data(), 80 + 20 * static_cast<int64_t>(s) % 7, d});
  }
  std::vector<FactoredBasis> b;
  for (int K : {2, 4, 8, 16}) b.push_back(acc.basis(K));
  ASSERT_EQ(b[0].offset.size(), size_t(d));
  check({120, d, DType::BF16, 11}, ptrs(b), false);
  check({30, d, DType::F32, 14}, ptrs(b), false);
}

TEST(CtReference, LargeGramUsesIterativeEigenAndAgrees) {
  // m > 512: the block Lanczos path, against LAPACK on a naive double Gram.
  const bool small = sanitized();
  const auto g1 = make_fixed_basis(BasisKind::Gaussian, 8, small ? 700 : 1100);
  const auto g2 = make_fixed_basis(BasisKind::Gaussian, 64, small ? 700 : 1100);
  // Spectra that decay through K = 64 (like trained weights): Lanczos settles.
  check({604, small ? 700 : 1100, DType::BF16, 21}, {&g1, &g2}, false, false, 150, 0.02);  // m % 8 != 0
  const auto h1 = make_fixed_basis(BasisKind::Gaussian, 8, 640);
  const auto h2 = make_fixed_basis(BasisKind::Dct, 64, 640);
  check({small ? 700 : 900, 640, DType::F32, 22}, {&h1, &h2}, false, false, 150, 0.02);
}

TEST(CtReference, TopEigenIterativeEqualsExact) {
  // Pure noise (flat spectrum, the hard case) and a power law, both centerings.
  // Kind 2 has rank 41 exactly: the Krylov space runs out below K = 64 and
  // the iteration must go on from random blocks.
  for (int kind = 0; kind < 3; ++kind) {
    const int64_t n = sanitized() ? 700 : 1100, d = sanitized() ? 600 : 1000;
    ctref::Mat W = kind == 0   ? structured(n, d, 31, 0, 1.0)
                   : kind == 1 ? structured(n, d, 32, 40, 0.05)
                               : structured(n, d, 33, 40, 0.0);
    ctref::Mat G(d * d, 0.0), mu(d, 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < d; ++j) mu[j] += W[i * d + j] / double(n);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t a = 0; a < d; ++a)
        for (int64_t b2 = a; b2 < d; ++b2) G[a * d + b2] += W[i * d + a] * W[i * d + b2];
    for (int64_t a = 0; a < d; ++a)
      for (int64_t b2 = 0; b2 < a; ++b2) G[a * d + b2] = G[b2 * d + a];
    ctref::Mat C(G);
    Centering cen;
    cen.u.resize(d);
    for (int64_t j = 0; j < d; ++j) cen.u[j] = mu[j] * std::sqrt(double(n));
    cen.gamma = -1;
    for (int64_t a = 0; a < d; ++a)
      for (int64_t b2 = 0; b2 < d; ++b2) C[a * d + b2] -= cen.u[a] * cen.u[b2];
    const auto eg = lapack_eigs(G, d), ec = lapack_eigs(C, d);
    double tr = 0;
    for (double e : eg) tr += e;
    TopEigenOptions o;
    o.tol_abs = 2e-6 * tr;  // as analyze_matrix uses it
    std::vector<float> work;
    const auto te = top_eigen(G, [&] { return C; }, d, {8, 64}, cen, o, work);
    double s8 = 0, s64 = 0;
    for (int k = 0; k < 64; ++k) (k < 8 ? s8 : s64) += eg[k];
    s64 += s8;
    EXPECT_NEAR(te.top_sums[0], s8, 1e-5 * tr) << "kind " << kind << " subspace " << te.subspace;
    EXPECT_NEAR(te.top_sums[1], s64, 1e-5 * tr) << "kind " << kind;
    EXPECT_LE(te.top_sums[1], s64 * (1 + 1e-6)) << "Ritz sums are lower bounds";
    EXPECT_NEAR(te.lmax_c, ec[0], 1e-5 * ec[0]) << "kind " << kind;
    if (kind == 1 && !sanitized()) {
      EXPECT_FALSE(te.exact) << "a power-law spectrum must settle in the Krylov path";
    }
    if (kind == 1) {
      // K = 8 alone: the first check follows the largest K asked for, and the
      // top 8 settle in a small space.
      const auto t8 = top_eigen(G, [&] { return C; }, d, {8}, cen, o, work);
      EXPECT_NEAR(t8.top_sums[0], s8, 1e-5 * tr);
      EXPECT_FALSE(t8.exact);
      EXPECT_LE(t8.subspace, 128) << "K = 8 took a Krylov space of " << t8.subspace;
    }
  }
}
