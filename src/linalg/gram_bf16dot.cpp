#include "linalg/gram_bf16dot.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "util/cpu_features.hpp"
#include "util/error.hpp"
#include "util/thread_pool.hpp"

namespace ctscope::linalg::bf16dot {

namespace {

// CTSCOPE_AVX512BF16: "0" off, any other value on, unset: the CPU's default.
bool chosen(bool by_default) {
  const char* e = std::getenv("CTSCOPE_AVX512BF16");
  if (!e || !*e) return by_default;
  return std::strcmp(e, "0") != 0;
}

#ifdef CTSCOPE_BF16_SIMD

// GCC 12 flags its own intrinsics' _mm512_undefined_* temporaries (GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
// Compiled for AVX-512 BF16 whatever the build's -march; called only where
// cpu_features() says the CPU runs it. (Lambdas do not inherit a target
// attribute: the parallel loops call these functions, never intrinsics.)
#define CTSCOPE_DPBF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

constexpr int64_t kKc = 128;  // pairs of k per sweep: a 48-column strip of B (kKc x 192 bytes, 24 KiB) stays in L1
constexpr int kMr = 8;  // rows of G per micro tile: 8 x 3 accumulators of 16 floats (24 of the 32 zmm registers); 4 x 6 measured slower
constexpr int64_t kGroup = kBlock / 16;  // 16-index blocks per 48-column strip

// Block b of 16 indices of G's side (columns of X when tall, rows when wide),
// pair p: the 32-bit word at (b * kpp + p) * 16 + l holds the BF16 pair
// (x[2p], x[2p+1]) of index 16 b + l, the even one low (VNNI order). The same
// words serve as VDPBF16PS's vector operand (16 indices) and its broadcast one.
struct Packed {
  uint32_t* w;
  int64_t blocks, kp, kpp;  // blocks (a multiple of kGroup, zero past m), pairs, pairs per block (a multiple of 16)
};

Packed layout(Scratch& s, int64_t m, int64_t k) {
  const int64_t blocks = (m + kBlock - 1) / kBlock * kGroup, kp = (k + 1) / 2, kpp = (kp + 15) / 16 * 16;
  const auto need = static_cast<size_t>(blocks * kpp * 16 + 16);
  if (s.buf.size() < need) s.buf.resize(need);
  uint32_t* p = s.buf.data();
  p += (64 - reinterpret_cast<uintptr_t>(p) % 64) % 64 / sizeof(uint32_t);  // 64-byte aligned rows
  return {p, blocks, kp, kpp};
}

// Tall, blocks [b0, b1) (whole columns of X: this worker owns their sums).
// Pairs outer, 16 at a time: 32 whole rows of X are read sequentially (a
// column sweep would take a TLB miss per row).
CTSCOPE_DPBF16 void pack_tn_blocks(const uint16_t* X, int64_t k, int64_t m, int64_t ld, const Packed& p, int64_t b0,
                                   int64_t b1, double* colsum, double& ss, double& sum) {
  for (int64_t q0 = 0; q0 < p.kpp; q0 += 16) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t i0 = b * 16, ni = std::clamp<int64_t>(m - i0, 0, 16);
      const auto cols = static_cast<__mmask16>((1u << ni) - 1);
      Acc16 s1 = acc_zero(), s2 = acc_zero();
      uint32_t* dst = p.w + (b * p.kpp + q0) * 16;
      for (int64_t q = 0; q < 16; ++q) {
        const int64_t r = 2 * (q0 + q);
        const __m256i lo = r < k && ni > 0 ? _mm256_maskz_loadu_epi16(cols, X + r * ld + i0) : _mm256_setzero_si256();
        const __m256i hi =
            r + 1 < k && ni > 0 ? _mm256_maskz_loadu_epi16(cols, X + (r + 1) * ld + i0) : _mm256_setzero_si256();
        acc_add(s1, s2, bf16x16_to_ps(lo));
        acc_add(s1, s2, bf16x16_to_ps(hi));
        const __m512i word = _mm512_or_si512(_mm512_cvtepu16_epi32(lo), _mm512_slli_epi32(_mm512_cvtepu16_epi32(hi), 16));
        _mm512_store_si512(dst + q * 16, word);
      }
      if (ni > 0) add_lanes(s1, colsum + i0, ni);
      sum += sum_lanes(s1);
      ss += sum_lanes(s2);
    }
  }
}

// Wide, blocks [b0, b1): 16 rows of X, 32 values (16 pairs) of each at a time,
// transposed so a 64-byte row holds one pair of all 16 rows.
CTSCOPE_DPBF16 void pack_nt_blocks(const uint16_t* X, int64_t m, int64_t k, int64_t ld, const Packed& p, int64_t b0,
                                   int64_t b1, double* colsum, double& ss, double& sum) {
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t i0 = b * 16, ni = std::clamp<int64_t>(m - i0, 0, 16);
    for (int64_t q0 = 0; q0 < p.kpp; q0 += 16) {
      const int64_t c0 = 2 * q0, nk = std::clamp<int64_t>(k - c0, 0, 32);
      const __mmask32 mask = nk == 32 ? ~__mmask32{0} : static_cast<__mmask32>((1u << nk) - 1);
      __m512i r[16];
      Acc16 s_lo = acc_zero(), s_hi = acc_zero(), s2 = acc_zero();
      for (int q = 0; q < 16; ++q) {
        r[q] = q < ni && nk > 0 ? _mm512_maskz_loadu_epi16(mask, X + (i0 + q) * ld + c0) : _mm512_setzero_si512();
        acc_add(s_lo, s2, bf16x16_to_ps(_mm512_castsi512_si256(r[q])));
        acc_add(s_hi, s2, bf16x16_to_ps(_mm512_extracti64x4_epi64(r[q], 1)));
      }
      if (nk > 0) add_lanes(s_lo, colsum + c0, std::min<int64_t>(nk, 16));
      if (nk > 16) add_lanes(s_hi, colsum + c0 + 16, nk - 16);
      sum += sum_lanes(s_lo) + sum_lanes(s_hi);
      ss += sum_lanes(s2);
      transpose_store(r, reinterpret_cast<uint16_t*>(p.w + (b * p.kpp + q0) * 16));
    }
  }
}

// C (rows x 48 floats, row stride ldc, columns under `cols` masks) += the
// kMr x 48 tile over kc pairs: a points at the tile's first index in its
// block's words, b at the strip's first block (the next two kpp * 16 words on).
CTSCOPE_DPBF16 inline void micro(const uint32_t* a, const uint32_t* b, int64_t kpp, int64_t kc, float* C, int64_t ldc,
                                 int rows, const __mmask16 (&cols)[kGroup]) {
  __m512 acc[kMr][kGroup];
  for (auto& row : acc)
    for (auto& v : row) v = _mm512_setzero_ps();
  // The tile's rows of G, 8 KiB apart at m = 2048, are read at the end, after
  // ~1500 cycles of products: fetched now, their misses overlap the products
  // (the Gram at 535-595 GFLOP/s on a Zen 5 EPYC's two cores against 445-470
  // without, bench_gram, alternating). Longer sweeps (512 pairs) amortized the
  // misses as well but summed 4x as many products in float before each add.
  for (int r = 0; r < rows; ++r)
    for (int v = 0; v < kGroup; ++v) _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc + v * 16), _MM_HINT_T0);
  for (int64_t p = 0; p < kc; ++p) {
    __m512bh v[kGroup];
    for (int g = 0; g < kGroup; ++g) v[g] = (__m512bh)_mm512_load_si512(b + g * kpp * 16 + p * 16);
    for (int r = 0; r < kMr; ++r) {
      const auto x = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[p * 16 + r]));
      for (int g = 0; g < kGroup; ++g) acc[r][g] = _mm512_dpbf16_ps(acc[r][g], x, v[g]);
    }
  }
  for (int r = 0; r < rows; ++r)
    for (int v = 0; v < kGroup; ++v) {
      float* c = C + r * ldc + v * 16;
      _mm512_mask_storeu_ps(c, cols[v], _mm512_add_ps(_mm512_maskz_loadu_ps(cols[v], c), acc[r][v]));
    }
}

// Strip J (columns [48 J, 48 J + 48) of G), pairs [p0, p0 + kc): every row
// tile on and above the diagonal block.
CTSCOPE_DPBF16 void strip(const Packed& pk, int64_t m, int64_t J, int64_t p0, int64_t kc, float* G, int64_t ldg) {
  const int64_t j0 = J * kBlock;
  __mmask16 cols[kGroup];
  for (int64_t v = 0; v < kGroup; ++v) {
    const int64_t nj = std::clamp<int64_t>(m - j0 - 16 * v, 0, 16);
    cols[v] = static_cast<__mmask16>((1u << nj) - 1);
  }
  const uint32_t* b = pk.w + (J * kGroup * pk.kpp + p0) * 16;
  for (int64_t i0 = 0; i0 < std::min(m, j0 + kBlock); i0 += kMr) {
    const uint32_t* a = pk.w + ((i0 / 16) * pk.kpp + p0) * 16 + i0 % 16;
    micro(a, b, pk.kpp, kc, G + i0 * ldg + j0, ldg, static_cast<int>(std::min<int64_t>(kMr, m - i0)), cols);
  }
}

// Strip J and its mirror go to the same worker, so every worker gets an
// equal share of the triangle; workers write disjoint columns of G.
void compute(const Packed& pk, int64_t m, float* G, int64_t ldg) {
  const int64_t strips = pk.blocks / kGroup;
  parallel_for((strips + 1) / 2, 1, [&](int64_t h0, int64_t h1, int) {
    for (int64_t p0 = 0; p0 < pk.kp; p0 += kKc) {
      const int64_t kc = std::min(kKc, pk.kp - p0);
      for (int64_t h = h0; h < h1; ++h) {
        strip(pk, m, h, p0, kc, G, ldg);
        if (strips - 1 - h != h) strip(pk, m, strips - 1 - h, p0, kc, G, ldg);
      }
    }
  });
}

void gram(bool tall, const uint16_t* X, int64_t m, int64_t k, int64_t ld, float* G, int64_t ldg, Scratch& s,
          PanelStats& st) {
  if (k < 1 || m < 1) return;
  if (!cpu_features().avx512_bf16) throw Error("AVX-512 BF16 Gram: this CPU lacks AVX512_BF16");
  const Packed pk = layout(s, m, k);
  const int64_t cols = tall ? 0 : k;  // tall: a worker's blocks are whole columns of X, it owns their sums
  StatParts part(worker_count(), cols);
  parallel_for(pk.blocks, 1, [&](int64_t b0, int64_t b1, int w) {
    if (tall)
      pack_tn_blocks(X, k, m, ld, pk, b0, b1, st.colsum, part.ss[w], part.sum[w]);
    else
      pack_nt_blocks(X, m, k, ld, pk, b0, b1, part.colsum.data() + w * k, part.ss[w], part.sum[w]);
  });
  part.add_to(st, cols);
  compute(pk, m, G, ldg);
}

constexpr int kProjRows = 4;     // rows of Y per micro tile: 4 x 5 accumulators
constexpr int kProjVecs = 5;     // 16-column vectors of Y per micro tile
constexpr int64_t kProjKc = 64;  // pairs per sweep: their words of Q (at kq = 72, 60 KiB) stay in L1/L2

// The BF16 pair (x[2p], x[2p+1]) of a row as one word, x[2p+1] = 0 past k.
inline uint32_t pair_word(const uint16_t* x, int64_t p, int64_t k) {
  if (2 * p + 1 < k) {
    uint32_t w;
    std::memcpy(&w, x + 2 * p, sizeof w);  // BF16 rows may sit at any even address
    return w;
  }
  return x[2 * p];
}

// Y[r0 : r0 + nr, 16 v0 : 16 (v0 + NV)] += X's rows times Q's pairs [p0, p0 + kc) (k0's pairs on).
template <int NV>
CTSCOPE_DPBF16 void project_tile(const uint16_t* X, int64_t ld, int64_t k, const Projection& pj, int64_t q0,
                                 int64_t p0, int64_t kc, int64_t r0, int nr, int v0, float* Y, int64_t ldy) {
  __m512 acc[kProjRows][NV];
  for (int r = 0; r < kProjRows; ++r)
    for (int v = 0; v < NV; ++v)
      acc[r][v] = r < nr ? _mm512_loadu_ps(Y + (r0 + r) * ldy + 16 * (v0 + v)) : _mm512_setzero_ps();
  const uint16_t* rows[kProjRows];
  for (int r = 0; r < kProjRows; ++r) rows[r] = X + (r0 + std::min(r, nr - 1)) * ld;
  for (int64_t p = p0; p < p0 + kc; ++p) {
    __m512bh x[kProjRows];
    for (int r = 0; r < kProjRows; ++r) x[r] = (__m512bh)_mm512_set1_epi32(static_cast<int>(pair_word(rows[r], p, k)));
    const uint32_t* q = pj.buf.data() + ((q0 + p) * 3 * pj.vecs + v0) * 16;
    for (int part = 0; part < 3; ++part, q += pj.vecs * 16)
      for (int v = 0; v < NV; ++v) {
        const auto qv = (__m512bh)_mm512_loadu_si512(q + v * 16);
        for (int r = 0; r < kProjRows; ++r) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], x[r], qv);
      }
  }
  for (int r = 0; r < nr; ++r)
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(Y + (r0 + r) * ldy + 16 * (v0 + v), acc[r][v]);
}

CTSCOPE_DPBF16 void project_rows(const uint16_t* X, int64_t r0, int64_t r1, int64_t k, int64_t ld, const Projection& pj,
                                 int64_t q0, float* Y, int64_t ldy) {
  const int64_t kp = (k + 1) / 2;
  for (int64_t r = r0; r < r1; ++r) std::fill_n(Y + r * ldy, pj.ycols(), 0.f);
  for (int64_t p0 = 0; p0 < kp; p0 += kProjKc) {
    const int64_t kc = std::min(kProjKc, kp - p0);
    for (int64_t i = r0; i < r1; i += kProjRows) {
      const int nr = static_cast<int>(std::min<int64_t>(kProjRows, r1 - i));
      for (int v0 = 0; v0 < pj.vecs; v0 += kProjVecs) {
        switch (std::min(kProjVecs, pj.vecs - v0)) {
          case 1: project_tile<1>(X, ld, k, pj, q0, p0, kc, i, nr, v0, Y, ldy); break;
          case 2: project_tile<2>(X, ld, k, pj, q0, p0, kc, i, nr, v0, Y, ldy); break;
          case 3: project_tile<3>(X, ld, k, pj, q0, p0, kc, i, nr, v0, Y, ldy); break;
          case 4: project_tile<4>(X, ld, k, pj, q0, p0, kc, i, nr, v0, Y, ldy); break;
          default: project_tile<5>(X, ld, k, pj, q0, p0, kc, i, nr, v0, Y, ldy); break;
        }
      }
    }
  }
}

#else

void gram(bool, const uint16_t*, int64_t, int64_t, int64_t, float*, int64_t, Scratch&, PanelStats&) {
  throw Error("AVX-512 BF16 Gram: not built for this CPU");
}

void project_rows(const uint16_t*, int64_t, int64_t, int64_t, int64_t, const Projection&, int64_t, float*, int64_t) {
  throw Error("AVX-512 BF16 projection: not built for this CPU");
}

#endif  // CTSCOPE_BF16_SIMD

}  // namespace

bool available() {
  const CpuFeatures& cpu = cpu_features();
  return cpu.avx512_bf16 && chosen(cpu.amd);
}

void gram_tn(const uint16_t* X, int64_t k, int64_t m, int64_t ld, float* G, int64_t ldg, Scratch& s, PanelStats& st) {
  gram(true, X, m, k, ld, G, ldg, s, st);
}

void gram_nt(const uint16_t* X, int64_t m, int64_t k, int64_t ld, float* G, int64_t ldg, Scratch& s, PanelStats& st) {
  gram(false, X, m, k, ld, G, ldg, s, st);
}

void pack_projection(const float* Q, int64_t d, int kq, Projection& p) {
  const size_t n = static_cast<size_t>(d) * static_cast<size_t>(kq);
  if (p.d == d && p.kq == kq && p.source.size() == n && std::equal(Q, Q + n, p.source.begin())) return;
  p.source.assign(Q, Q + n);
  p.d = d;
  p.kq = kq;
  p.pairs = (d + 1) / 2;
  p.vecs = (kq + 15) / 16;
  p.buf.assign(static_cast<size_t>(p.pairs * 3 * p.vecs * 16), 0);
  for (int64_t i = 0; i < d; ++i)
    for (int j = 0; j < kq; ++j) {
      const auto parts = bf16_parts(Q[i * kq + j]);
      for (int part = 0; part < 3; ++part)
        p.buf[static_cast<size_t>(((i / 2 * 3 + part) * p.vecs + j / 16) * 16 + j % 16)] |=
            static_cast<uint32_t>(parts[part]) << (16 * (i % 2));
    }
}

void project(const uint16_t* X, int64_t rows, int64_t k, int64_t ld, const Projection& p, int64_t k0, float* Y,
             int64_t ldy) {
  if (rows < 1 || k < 1) return;
  if (!cpu_features().avx512_bf16) throw Error("AVX-512 BF16 projection: this CPU lacks AVX512_BF16");
  if (k0 % 2 != 0 || k0 + k > p.d || ldy < p.ycols()) throw Error("AVX-512 BF16 projection: rows of Q out of range");
  parallel_for(rows, 16, [&](int64_t r0, int64_t r1, int) { project_rows(X, r0, r1, k, ld, p, k0 / 2, Y, ldy); });
}

}  // namespace ctscope::linalg::bf16dot
