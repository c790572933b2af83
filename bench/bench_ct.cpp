// CT analysis speed on TinyLlama-shaped BF16 matrices (built in memory:
// power-law low-rank structure plus noise), against this machine's SGEMM
// measured in the same run. Usage: bench_ct [layers=1] [vocab=1] [noise=0.02]
#include <cblas.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "ct/basis.hpp"
#include "ct/matrix_analysis.hpp"
#include "io/dtype.hpp"
#include "util/normal_rng.hpp"
#include "util/resource_usage.hpp"
#include "yardstick.hpp"

using namespace ctscope;
using namespace ctscope::ct;
using namespace ctscope::linalg;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Best of `reps` 2048^3 SGEMMs: the machine is shared, so it is measured next
// to every matrix and each matrix is compared with its neighbouring SGEMM.
double sgemm_gflops(int reps = 3) { return bench::sgemm_gflops(2048, 2048, 2048, reps); }

// W = U diag(s) V^T + noise, s_i ~ (1+i)^-0.6 over r = 256 directions, in BF16.
std::vector<uint16_t> make_matrix(int64_t n, int64_t d, uint64_t seed, float noise) {
  const int r = 256;
  NormalRng rng(seed);
  auto normal = [&] { return float(rng()); };
  std::vector<float> SV(size_t(r) * d);
  for (int i = 0; i < r; ++i) {
    const float s = float(0.08 * std::pow(1.0 + i, -0.6));
    for (int64_t j = 0; j < d; ++j) SV[i * d + j] = s * normal() / float(std::sqrt(double(r) * 0.02));
  }
  std::vector<uint16_t> W(size_t(n * d));
  const int64_t rb = 512;
  std::vector<float> U(size_t(rb) * r), P(size_t(rb * d));
  for (int64_t r0 = 0; r0 < n; r0 += rb) {
    const int64_t rows = std::min(rb, n - r0);
    for (auto& u : U) u = normal();
    for (auto& p : P) p = noise * normal();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(d), r, 1.f, U.data(), r, SV.data(), int(d), 1.f,
                P.data(), int(d));
    for (int64_t i = 0; i < rows * d; ++i) W[r0 * d + i] = f32_to_bf16(P[i]);
  }
  return W;
}

}  // namespace

int main(int argc, char** argv) {
  ctscope::bench::start_benchmark(argv);
  const int layers = argc > 1 ? std::atoi(argv[1]) : 1;
  const bool vocab = argc > 2 ? std::atoi(argv[2]) != 0 : true;
  const float noise = argc > 3 ? float(std::atof(argv[3])) : 0.02f;  // i.i.d. part; the structured part is fixed
  constexpr double kNominalSgemm = 360;  // this machine's SGEMM when idle (the target's reference)
  const double sgemm0 = sgemm_gflops();
  std::printf("SGEMM 2048^3: %.0f GFLOP/s at start (nominal %.0f)\n", sgemm0, kNominalSgemm);
  struct Shape { const char* name; int64_t n, d; };
  std::vector<Shape> shapes;
  for (int l = 0; l < layers; ++l)
    for (Shape s : {Shape{"q_proj", 2048, 2048}, Shape{"k_proj", 256, 2048}, Shape{"v_proj", 256, 2048},
                    Shape{"o_proj", 2048, 2048}, Shape{"gate_proj", 5632, 2048}, Shape{"up_proj", 5632, 2048},
                    Shape{"down_proj", 2048, 5632}})
      shapes.push_back(s);
  if (vocab) shapes.push_back({"lm_head", 32000, 2048});

  const auto g8 = make_fixed_basis(BasisKind::Gaussian, 8, 2048), g64 = make_fixed_basis(BasisKind::Gaussian, 64, 2048);
  const auto h8 = make_fixed_basis(BasisKind::Gaussian, 8, 5632), h64 = make_fixed_basis(BasisKind::Gaussian, 64, 5632);
  double layer_s = 0, vocab_s = 0, flops = 0, total_s = 0, norm_layer_s = 0, norm_vocab_s = 0, sgemm_sum = 0;
  std::printf("%-10s %6s %6s %8s %7s %7s %7s %8s %6s %6s %8s %8s %6s\n", "matrix", "n", "d", "wall_ms", "gram", "eigen",
              "fit", "GFLOP/s", "SGEMM", "xSGEMM", "r2@8", "r2@64", "krylov");
  for (size_t i = 0; i < shapes.size(); ++i) {
    const auto& s = shapes[i];
    const auto W = make_matrix(s.n, s.d, 100 + i, noise);
    MatrixAnalysisOptions opt;
    opt.bases = s.d == 2048 ? std::vector<const FactoredBasis*>{&g8, &g64} : std::vector<const FactoredBasis*>{&h8, &h64};
    const double sgemm = sgemm_gflops(2);
    sgemm_sum += sgemm;
    const auto t0 = Clock::now();
    const auto r = analyze_matrix({DType::BF16, W.data(), s.n, s.d}, opt);
    const double t = since(t0);
    (std::string(s.name) == "lm_head" ? vocab_s : layer_s) += t;
    // Time this matrix would take with the nominal SGEMM speed (everything here scales with the machine's load).
    (std::string(s.name) == "lm_head" ? norm_vocab_s : norm_layer_s) += t * sgemm / kNominalSgemm;
    total_s += t;
    flops += r.flops;
    std::printf("%-10s %6ld %6ld %8.1f %7.1f %7.1f %7.1f %8.0f %6.0f %6.2f %8.5f %8.5f %6d%s\n", s.name, long(s.n),
                long(s.d), t * 1e3, r.gram_s * 1e3, r.eigen_s * 1e3, r.fit_s * 1e3, r.flops / t / 1e9, sgemm,
                r.flops / t / 1e9 / sgemm, r.fits[0].r2, r.fits[1].r2, r.krylov_dim, r.error.empty() ? "" : r.error.c_str());
  }
  const double sgemm_mean = sgemm_sum / double(shapes.size());
  std::printf("total %.2f s, %.0f GFLOP/s (%.2f x mean SGEMM %.0f), peak RSS %.0f MB\n", total_s, flops / total_s / 1e9,
              flops / total_s / 1e9 / sgemm_mean, sgemm_mean, peak_rss_mb());
  if (layers > 0) {
    std::printf("extrapolated TinyLlama (22 layers + 2 vocab matrices): %.1f s as measured\n",
                layer_s / layers * 22 + (vocab ? 2 * vocab_s : 0));
    std::printf("  scaled to nominal SGEMM %.0f GFLOP/s (idle machine): %.1f s\n", kNominalSgemm,
                norm_layer_s / layers * 22 + (vocab ? 2 * norm_vocab_s : 0));
  }
  return 0;
}
