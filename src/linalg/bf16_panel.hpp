// What the two BF16 Gram kernels (gram_amx: AMX tiles; gram_bf16dot: AVX-512
// BF16 dot products) share: the panel statistics they take while packing, and
// the AVX-512 pieces of their packing (exact BF16 -> float -> double sums, the
// 16 x 16 transpose of 32-bit words that turns rows of BF16 pairs into columns).
#pragma once
#include <array>
#include <bit>
#include <cstdint>
#include <vector>

#include "util/thread_pool.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CTSCOPE_BF16_SIMD 1
#include <immintrin.h>
#endif

namespace ctscope::linalg {

// Statistics of the panel a Gram call reads, taken while packing it (so the
// data is read once): colsum (caller's array) += column sums, ss += sum of
// squares, sum += sum, all in double.
struct PanelStats {
  double* colsum = nullptr;
  double ss = 0, sum = 0;
};

// A float as three BF16 parts whose sum is the float exactly (8 + 8 + 8
// significant bits, each part rounded to nearest from what is left): BF16 x
// BF16 products are exact in FP32, so X Q with Q in parts matches SGEMM on X
// converted to float up to the order of the FP32 sums, without converting X.
inline std::array<uint16_t, 3> bf16_parts(float v) {
  std::array<uint16_t, 3> h{};
  for (auto& part : h) {
    const auto u = std::bit_cast<uint32_t>(v);
    part = static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
    v -= std::bit_cast<float>(static_cast<uint32_t>(part) << 16);  // exact: the part holds v's leading bits
  }
  return h;
}

// Per-worker partial statistics of a packed panel, added up by the caller.
struct StatParts {
  std::vector<double> colsum;   // workers x cols (cols = 0 where workers own disjoint columns)
  std::vector<double> ss, sum;  // per worker
  StatParts(int workers, int64_t cols)
      : colsum(static_cast<size_t>(workers * cols), 0.0), ss(workers, 0.0), sum(workers, 0.0) {}
  void add_to(PanelStats& st, int64_t cols) const {
    const auto workers = static_cast<int64_t>(ss.size());
    for (int64_t w = 0; w < workers; ++w) {
      st.ss += ss[w];
      st.sum += sum[w];
      for (int64_t j = 0; j < cols; ++j) st.colsum[j] += colsum[w * cols + j];
    }
  }
};

#ifdef CTSCOPE_BF16_SIMD

// GCC 12 flags its own intrinsics' _mm512_undefined_* temporaries (GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#define CTSCOPE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

// 16 x 16 transpose of 32-bit words (rows r[q] -> dst row j = column j, rows 64 bytes apart).
CTSCOPE_AVX512 inline void transpose_store(const __m512i (&r)[16], uint16_t* dst) {
  __m512i t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  // u[4g + j], 128-bit lane L: column 4 L + j of rows 4 g .. 4 g + 3.
  for (int g = 0; g < 16; g += 4) {
    u[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
    u[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
    u[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
    u[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
  }
  for (int j = 0; j < 4; ++j) {
    const __m512i x0 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x44), x1 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xEE);
    const __m512i y0 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x44), y1 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xEE);
    _mm512_store_si512(dst + (0 + j) * 32, _mm512_shuffle_i32x4(x0, y0, 0x88));
    _mm512_store_si512(dst + (4 + j) * 32, _mm512_shuffle_i32x4(x0, y0, 0xDD));
    _mm512_store_si512(dst + (8 + j) * 32, _mm512_shuffle_i32x4(x1, y1, 0x88));
    _mm512_store_si512(dst + (12 + j) * 32, _mm512_shuffle_i32x4(x1, y1, 0xDD));
  }
}

// BF16 bits (16 in a 256-bit lane) to floats: exact.
CTSCOPE_AVX512 inline __m512 bf16x16_to_ps(__m256i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// Sums of 16 values as two halves of 8 doubles: BF16 values and their
// squares are exact in double, so the statistics are as exact as a scalar
// double loop.
struct Acc16 {
  __m512d lo, hi;
};
CTSCOPE_AVX512 inline Acc16 acc_zero() { return {_mm512_setzero_pd(), _mm512_setzero_pd()}; }
CTSCOPE_AVX512 inline void acc_add(Acc16& s, Acc16& s2, __m512 v) {
  const __m512d a = _mm512_cvtps_pd(_mm512_castps512_ps256(v)), b = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
  s.lo = _mm512_add_pd(s.lo, a);
  s.hi = _mm512_add_pd(s.hi, b);
  s2.lo = _mm512_fmadd_pd(a, a, s2.lo);
  s2.hi = _mm512_fmadd_pd(b, b, s2.hi);
}
// dst[0..n) += the first n lanes of s.
CTSCOPE_AVX512 inline void add_lanes(const Acc16& s, double* dst, int64_t n) {
  alignas(64) double f[16];
  _mm512_store_pd(f, s.lo);
  _mm512_store_pd(f + 8, s.hi);
  for (int64_t i = 0; i < n; ++i) dst[i] += f[i];
}
CTSCOPE_AVX512 inline double sum_lanes(const Acc16& s) { return _mm512_reduce_add_pd(_mm512_add_pd(s.lo, s.hi)); }

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // CTSCOPE_BF16_SIMD

}  // namespace ctscope::linalg
