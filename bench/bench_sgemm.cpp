// The machine's measured SGEMM throughput (OpenBLAS, all threads): the yardstick
// every other benchmark is divided by, for scripts (bench_analyze.sh).
#include <cstdio>

#include "yardstick.hpp"

int main(int, char** argv) {
  ctscope::bench::start_benchmark(argv);
  const double gflops = ctscope::bench::sgemm_gflops(2048, 2048, 2048, 5);
  std::printf("sgemm 2048x2048x2048: %.1f GFLOP/s (best of 5)\n", gflops);
  std::printf("GFLOP/s %.1f\n", gflops);
}
