// The arithmetic peak of this machine's vector units, per instruction kind:
// AVX-512 FP32 FMA (vfmadd231ps, 32 FLOPs) and AVX-512 BF16 dot products
// (vdpbf16ps, 64 FLOPs), on 1 thread and on every core, from register-only
// loops with 12 independent accumulators (no memory traffic). It says how fast
// a non-AMX Gram could possibly be: the Gram of a TinyLlama-shaped model is
// 2.21 TFLOP, so its time without AMX is at least 2.21e3 / peak seconds.
// Usage: bench_peak [seconds-ish scale, default 1]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "util/cpu_features.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CTSCOPE_PEAK 1
#include <immintrin.h>
#endif

namespace {

#ifdef CTSCOPE_PEAK
constexpr int kChains = 12;

// GCC 12 flags its own intrinsics' _mm512_undefined_* temporaries (GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

enum class Op { Fma, Dpbf16 };

template <Op op>
__attribute__((target("avx512f,avx512bf16"))) float spin(long iters) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i) * 1e-3f);
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3f80);
  const __m512 fa = _mm512_set1_ps(1.0001f), fb = _mm512_set1_ps(0.9999f);
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i)
      acc[i] = op == Op::Fma ? _mm512_fmadd_ps(fa, acc[i], fb) : _mm512_dpbf16_ps(acc[i], a, b);
  }
  float x = 0;
  for (int i = 0; i < kChains; ++i) x += _mm512_reduce_add_ps(acc[i]);
  return x;
}

// Instructions per second over `threads` threads each running `iters` loop trips.
template <Op op>
double rate(int threads, long iters) {
  std::vector<std::thread> pool;
  std::vector<float> sink(static_cast<size_t>(threads));
  const auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { sink[static_cast<size_t>(t)] = spin<op>(iters); });
  for (auto& t : pool) t.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (sink[0] == 1.2345f) std::puts("");  // keeps the results alive
  return static_cast<double>(kChains) * static_cast<double>(iters) * threads / s;
}
#endif  // CTSCOPE_PEAK

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
    std::puts("usage: bench_peak [scale=1]\n"
              "  Peak GFLOP/s of AVX-512 FP32 FMA and AVX-512 BF16 dot products (vdpbf16ps), 1 thread and all cores.\n"
              "  e.g. bench_peak 2");
    return 0;
  }
  const double scale = argc > 1 ? std::atof(argv[1]) : 1.0;
  if (!(scale > 0)) {
    std::fprintf(stderr, "bench_peak: error: scale '%s' is not a positive number\n", argv[1]);
    return 2;
  }
#ifndef CTSCOPE_PEAK
  std::puts("x86-64 only: nothing to measure");
  return 0;
#else
  const ctscope::CpuFeatures& f = ctscope::cpu_features();
  if (!f.avx512 || !f.avx512_bf16) {
    std::puts("AVX-512 FMA or AVX-512 BF16 missing: nothing to measure");
    return 0;
  }
  const long iters = static_cast<long>(2e8 * scale);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int threads : {1, cores}) {
    const double fma = rate<Op::Fma>(threads, iters), dot = rate<Op::Dpbf16>(threads, iters);
    std::printf("%d thread%s: vfmadd231ps %.2f G/s = %.0f GFLOP/s; vdpbf16ps %.2f G/s = %.0f GFLOP/s\n", threads,
                threads == 1 ? " " : "s", fma / 1e9, fma * 32 / 1e9, dot / 1e9, dot * 64 / 1e9);
    if (cores == 1) break;
  }
#endif
}
