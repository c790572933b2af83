// What every benchmark shares: timing by best of several runs, and the SGEMM
// yardstick - OpenBLAS's float GEMM throughput on this machine, measured in
// the same run - that achieved GFLOP/s are divided by (these machines are
// shared and noisy, so an absolute rate alone says little).
#pragma once
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "linalg/blas_core.hpp"
#include "util/resource_usage.hpp"

namespace ctscope::bench {

// The first line of every benchmark's main(): the BLAS kernel correction
// ctscope makes (a restart where OpenBLAS fell back; linalg/blas_core.hpp), so
// the yardstick is measured on the kernels ctscope runs, and a line naming them.
inline void start_benchmark(char** argv) {
  const std::string note = linalg::ensure_blas_core(argv);
  std::printf("%s\n", note.c_str());
}

// The fastest of `reps` timed calls of fn, in seconds.
template <typename Fn>
double best_of(int reps, Fn&& fn) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const Stopwatch t;
    fn();
    best = std::min(best, t.seconds());
  }
  return best;
}

// GFLOP/s of C = A B (m x k times k x n; B given as n x k when transpose_b),
// best of `reps` after one warm-up call (first touch, OpenBLAS's threads).
inline double sgemm_gflops(int64_t m = 2048, int64_t n = 2048, int64_t k = 2048, int reps = 5, bool transpose_b = false) {
  std::vector<float> a(static_cast<size_t>(m * k), 0.5f), b(static_cast<size_t>(n * k), 0.25f), c(static_cast<size_t>(m * n));
  const auto run = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(m),
                static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, a.data(), static_cast<blasint>(k), b.data(),
                static_cast<blasint>(transpose_b ? k : n), 0.0f, c.data(), static_cast<blasint>(n));
  };
  run();
  return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) / best_of(reps, run) / 1e9;
}

}  // namespace ctscope::bench
