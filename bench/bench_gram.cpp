// Gram pass throughput on one BF16 matrix: each kernel alone (AMX, AVX-512
// BF16 dot products), whole gram_pass on every path (with and without the
// Y = W Q projection), the SSYRK path last, all in the same run.
// Usage: bench_gram [n=5632] [d=2048] [kq=72] [reps=3]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "linalg/gram.hpp"
#include "linalg/gram_amx.hpp"
#include "linalg/gram_bf16dot.hpp"
#include "util/cpu_features.hpp"
#include "io/dtype.hpp"
#include "bench_args.hpp"
#include "yardstick.hpp"

using namespace ctscope;
using namespace ctscope::linalg;
using bench::best_of;

namespace {

constexpr const char* kUsage =
    "usage: bench_gram [n=5632] [d=2048] [kq=72] [reps=3]\n"
    "  Gram pass throughput on one random n x d BF16 matrix, every kernel path, over SGEMM.\n"
    "  e.g. bench_gram 5632 2048 72 3\n";

}  // namespace

int main(int argc, char** argv) {
  if (bench::wants_help(argc, argv, kUsage)) return 0;
  const int64_t n = bench::positional(argc, argv, 1, 5632, kUsage), d = bench::positional(argc, argv, 2, 2048, kUsage);
  const int kq = static_cast<int>(bench::positional(argc, argv, 3, 72, kUsage)), reps = static_cast<int>(bench::positional(argc, argv, 4, 3, kUsage));
  ctscope::bench::start_benchmark(argv);
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 0.02f);
  std::vector<uint16_t> W(static_cast<size_t>(n * d));
  for (auto& w : W) w = f32_to_bf16(nd(rng));
  std::vector<float> Q(static_cast<size_t>(d) * kq);
  for (auto& q : Q) q = nd(rng);
  const MatrixView v{DType::BF16, W.data(), n, d};
  const bool row_gram = n >= d;
  const int64_t m = row_gram ? d : n;
  const double gflop = double(m) * double(m + 1) * double(row_gram ? n : d) / 1e9;
  GramPass g;
  auto pass = [&](int k) { gram_pass(v, row_gram, Q.data(), k, g); };
  std::printf("%lld x %lld BF16, G %lld x %lld, %.1f GFLOP (kq=%d)\n", (long long)n, (long long)d, (long long)m,
              (long long)m, gflop, kq);
  const double sgemm = bench::sgemm_gflops();
  std::printf("SGEMM 2048^3 (same run): %.1f GFLOP/s; ratios below are kq=0 GFLOP/s over it\n", sgemm);
  unsetenv("CTSCOPE_NO_AMX");
  if (amx::available()) {
    std::vector<float> G(static_cast<size_t>(amx::padded(m) * amx::padded(m)));
    amx::Scratch s;
    std::vector<double> colsum(static_cast<size_t>(d));
    const int64_t kb = 1024;
    const double t = best_of(reps, [&] {
      for (int64_t k0 = 0; k0 < (row_gram ? n : d); k0 += kb) {
        amx::PanelStats st{colsum.data() + (row_gram ? 0 : k0)};
        if (row_gram)
          amx::gram_tn(W.data() + k0 * d, std::min(kb, n - k0), d, d, G.data(), amx::padded(m), s, st);
        else
          amx::gram_nt(W.data() + k0, n, std::min(kb, d - k0), d, G.data(), amx::padded(m), s, st);
      }
    });
    std::printf("amx kernel        %7.3f s  %7.1f GFLOP/s  ratio %.2f\n", t, gflop / t, gflop / t / sgemm);
    double tp = best_of(reps, [&] { pass(0); });
    std::printf("amx pass kq=0     %7.3f s  %7.1f GFLOP/s  ratio %.2f\n", tp, gflop / tp, gflop / tp / sgemm);
    tp = best_of(reps, [&] { pass(kq); });
    std::printf("amx pass kq=%-3d   %7.3f s\n", kq, tp);
  } else {
    std::printf("AMX unavailable\n");
  }
  setenv("CTSCOPE_NO_AMX", "1", 1);
  setenv("CTSCOPE_AVX512BF16", "1", 1);
  if (bf16dot::available()) {
    std::vector<float> G(static_cast<size_t>(m * m));
    bf16dot::Scratch s;
    std::vector<double> colsum(static_cast<size_t>(d));
    const int64_t kb = 1024;
    const double t = best_of(reps, [&] {
      for (int64_t k0 = 0; k0 < (row_gram ? n : d); k0 += kb) {
        PanelStats st{colsum.data() + (row_gram ? 0 : k0)};
        if (row_gram)
          bf16dot::gram_tn(W.data() + k0 * d, std::min(kb, n - k0), d, d, G.data(), m, s, st);
        else
          bf16dot::gram_nt(W.data() + k0, n, std::min(kb, d - k0), d, G.data(), m, s, st);
      }
    });
    std::printf("dpbf16 kernel     %7.3f s  %7.1f GFLOP/s  ratio %.2f\n", t, gflop / t, gflop / t / sgemm);
    double tp = best_of(reps, [&] { pass(0); });
    std::printf("dpbf16 pass kq=0  %7.3f s  %7.1f GFLOP/s  ratio %.2f\n", tp, gflop / tp, gflop / tp / sgemm);
    tp = best_of(reps, [&] { pass(kq); });
    std::printf("dpbf16 pass kq=%-3d%7.3f s\n", kq, tp);
  } else {
    std::printf("AVX-512 BF16 unavailable\n");
  }
  setenv("CTSCOPE_AVX512BF16", "0", 1);
  double tp = best_of(reps, [&] { pass(0); });
  std::printf("ssyrk pass kq=0   %7.3f s  %7.1f GFLOP/s  ratio %.2f\n", tp, gflop / tp, gflop / tp / sgemm);
  tp = best_of(reps, [&] { pass(kq); });
  std::printf("ssyrk pass kq=%-3d %7.3f s\n", kq, tp);
}
