// The top-K eigenvalue sums behind r2_svd (linalg/topk_eigen) on the Gram of
// one random n x d BF16 matrix W = Z diag(s), Z Gaussian, s_i^2 = i^-alpha
// (a power-law spectrum like synth's; alpha = 0 is i.i.d. noise, the slowest
// case for Krylov methods), as analyze calls them (K = 8 and 64, tolerance
// 1e-5 of the trace, the column-mean centering for the stable rank): time per
// call, Krylov dimension, counted GFLOP/s over the SGEMM yardstick.
// Usage: bench_eigen [n=5632] [d=2048] [reps=5] [alpha_percent=100]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "io/dtype.hpp"
#include "linalg/blas_threads.hpp"
#include "linalg/gram.hpp"
#include "linalg/topk_eigen.hpp"
#include "bench_args.hpp"
#include "yardstick.hpp"

using namespace ctscope;
using namespace ctscope::linalg;

namespace {

constexpr const char* kUsage =
    "usage: bench_eigen [n=5632] [d=2048] [reps=5] [alpha_percent=100]\n"
    "  Top-K eigenvalue sums (K = 8, 64; r2_svd's Lanczos) of the Gram of one random n x d BF16 matrix\n"
    "  with column scales s_j^2 = j^-alpha (alpha in percent; 0 = i.i.d. noise, the slowest case):\n"
    "  seconds per call, Krylov dimension, GFLOP/s over SGEMM.\n"
    "  e.g. bench_eigen 5632 2048 5 100\n";

}  // namespace

int main(int argc, char** argv) {
  if (bench::wants_help(argc, argv, kUsage)) return 0;
  const int64_t n = bench::positional(argc, argv, 1, 5632, kUsage), d = bench::positional(argc, argv, 2, 2048, kUsage);
  const int reps = static_cast<int>(bench::positional(argc, argv, 3, 5, kUsage));
  const double alpha = static_cast<double>(bench::positional(argc, argv, 4, 100, kUsage, 0)) / 100.0;
  bench::start_benchmark(argv);
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 0.02f);
  std::vector<uint16_t> W(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j)
      W[static_cast<size_t>(i * d + j)] =
          f32_to_bf16(nd(rng) * static_cast<float>(std::pow(static_cast<double>(j + 1), -alpha / 2)));
  const MatrixView v{DType::BF16, W.data(), n, d};
  const bool row_gram = n >= d;
  const GramPass g = gram_pass(v, row_gram);
  const int64_t m = g.m;
  // Centering along the column means (analyze's stable-rank matrix for a row Gram).
  Centering c;
  c.gamma = -1;
  c.u.resize(static_cast<size_t>(m));
  for (int64_t j = 0; j < m; ++j) c.u[j] = (row_gram ? g.colsum[j] : 1.0) / std::sqrt(static_cast<double>(row_gram ? n : m));
  double trace = 0;
  for (int64_t i = 0; i < m; ++i) trace += g.G[i * m + i];
  TopEigenOptions opt;
  opt.tol_abs = 1e-5 * trace;
  std::vector<float> work;
  TopEigen te;
  const double t = bench::best_of(reps, [&] {
    const ScopedBlasThreads serial_blas(1);  // as analyze_matrix runs it
    te = top_eigen(g.G, [&] { return g.G; }, m, {8, 64}, c, opt, work);
  });
  const double sgemm = bench::sgemm_gflops();
  std::printf("%lld x %lld BF16 (alpha %.2f), Gram %lld x %lld; K = 8, 64 to 1e-5 of the trace\n",
              static_cast<long long>(n), static_cast<long long>(d), alpha, static_cast<long long>(m),
              static_cast<long long>(m));
  std::printf("top_eigen        %7.2f ms per call (best of %d), Krylov dimension %d%s\n", t * 1e3, reps, te.subspace,
              te.exact ? " (LAPACK)" : "");
  std::printf("arithmetic       %.2f GFLOP at %.1f GFLOP/s; SGEMM 2048^3 (same run) %.1f GFLOP/s -> ratio %.2f\n",
              te.flops / 1e9, te.flops / t / 1e9, sgemm, te.flops / t / 1e9 / sgemm);
  std::printf("sums             K=8: %.9g  K=64: %.9g  (trace %.9g)\n", te.top_sums[0], te.top_sums[1], trace);
}
