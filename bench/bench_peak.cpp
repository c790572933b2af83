// The arithmetic peak of this machine's vector units, per instruction kind:
// AVX-512 FP32 FMA (vfmadd231ps, 32 FLOPs) and AVX-512 BF16 dot products
// (vdpbf16ps, 64 FLOPs), on 1 thread and on every core, from register-only
// loops with 12 independent accumulators (no memory traffic). It says how fast
// a non-AMX Gram could possibly be: the Gram of a TinyLlama-shaped model is
// 2.21 TFLOP, so its time without AMX is at least 2.21e3 / peak seconds.
// Where AMX is usable, also the AMX BF16 tile product (tdpbf16ps, 16384 FLOPs)
// from registers only, and fed the way a GEMM feeds it: 2 x 2 accumulator
// tiles, one 1 KiB operand tile loaded per product (the most reuse 8 tile
// registers allow), from buffers that fit L1, L2 and neither. The gap between
// the two is what operand traffic costs the AMX Gram.
// Usage: bench_peak [seconds-ish scale, default 1]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "linalg/gram_amx.hpp"
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

// Tile products per second on this thread: 2 x 2 accumulators (tiles 0-3)
// times operands in tiles 4-7, loaded from buf (64-byte aligned, `tiles` 1 KiB
// tiles, walked in order) before every 4 products, or never if tiles == 0.
__attribute__((target("amx-tile,amx-bf16"), noinline)) double tile_rate(const uint16_t* buf, int64_t tiles,
                                                                         long iters) {
  ctscope::linalg::amx::configure_tiles();  // the caller checked amx::available()
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, buf, 64);
  _tile_loadd(5, buf, 64);
  _tile_loadd(6, buf, 64);
  _tile_loadd(7, buf, 64);
  const auto t0 = std::chrono::steady_clock::now();
  int64_t at = 0;
  for (long it = 0; it < iters; ++it) {
    if (tiles > 0) {
      _tile_loadd(4, buf + at * 512, 64);
      _tile_loadd(5, buf + (at + 1) * 512, 64);
      _tile_loadd(6, buf + (at + 2) * 512, 64);
      _tile_loadd(7, buf + (at + 3) * 512, 64);
      at = at + 8 <= tiles ? at + 4 : 0;
    }
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  _tile_release();
  return 4.0 * static_cast<double>(iters) / s;
}

// Tile products per second summed over `threads` threads, each with its own
// buffer of `kib` KiB (0: registers only).
double amx_rate(int threads, int64_t kib, long iters) {
  std::vector<double> rates(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      std::vector<uint16_t> raw(static_cast<size_t>(std::max<int64_t>(kib, 4)) * 512 + 32, 0x3f80);
      uint16_t* buf = raw.data();
      buf += (64 - reinterpret_cast<uintptr_t>(buf) % 64) % 64 / sizeof(uint16_t);  // unaligned tile rows cost ~3x
      rates[static_cast<size_t>(t)] = tile_rate(buf, kib, iters);
    });
  for (auto& t : pool) t.join();
  double sum = 0;
  for (double r : rates) sum += r;
  return sum;
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
  if (!ctscope::linalg::amx::available()) {
    std::puts("AMX: not usable here (no AMX, or CTSCOPE_NO_AMX set)");
    return 0;
  }
  const long amx_iters = static_cast<long>(2e7 * scale);
  amx_rate(cores, 0, amx_iters / 10);  // the first tile use traps to the kernel; clocks settle
  for (int threads : {1, cores}) {
    std::printf("%d thread%s: tdpbf16ps", threads, threads == 1 ? " " : "s");
    for (int64_t kib : {int64_t{0}, int64_t{32}, int64_t{1024}, int64_t{65536}}) {
      const double r = amx_rate(threads, kib, kib > 1024 ? amx_iters / 4 : amx_iters);
      const char* from = kib == 0 ? " registers" : kib == 32 ? "; from L1" : kib == 1024 ? "; L2" : "; memory";
      std::printf("%s %.0f GFLOP/s", from, r * 16384 / 1e9);
    }
    std::puts("");
    if (cores == 1) break;
  }
#endif
}
