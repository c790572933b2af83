// The machine's measured SGEMM throughput (OpenBLAS, all threads): the yardstick
// every other benchmark is divided by, since these machines are noisy.
#include <cblas.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

int main() {
  const int n = 2048;
  std::vector<float> a(static_cast<size_t>(n) * n), b(a.size()), c(a.size());
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  for (auto& x : a) x = u(rng);
  for (auto& x : b) x = u(rng);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a.data(), n, b.data(), n, 0, c.data(), n);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a.data(), n, b.data(), n, 0, c.data(), n);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * n * n * n / s / 1e9);
  }
  std::printf("sgemm %dx%dx%d: %.1f GFLOP/s (best of 5)\n", n, n, n, best);
  std::printf("GFLOP/s %.1f\n", best);
}
