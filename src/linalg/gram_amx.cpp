#include "linalg/gram_amx.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "util/thread_pool.hpp"
#include "util/error.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CTSCOPE_AMX 1
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace ctscope::linalg::amx {

namespace {

bool env_disabled() {
  const char* e = std::getenv("CTSCOPE_NO_AMX");
  return e && *e && std::strcmp(e, "0") != 0;
}

#ifdef CTSCOPE_AMX

bool hardware_ready() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  if (!(d & (1u << 22)) || !(d & (1u << 24))) return false;  // AMX-BF16, AMX-TILE
  // Linux hands out the 8 KiB tile state only on request (per process).
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

constexpr int64_t kTile = 512;   // BF16 elements of one 16 x 32 tile (1 KiB)
constexpr int64_t kBlkPairs = 8;  // 32-row pairs of G per block: the block's A tiles (8 * 2 * KS KiB, 512 KiB at 1024 k) stay in L2 while B streams

// One 16 x 32 A tile holds rows mt*16.. of the m side and k values ks*32.. ;
// tile (mt, ks) sits at (mt * KS + ks) * kTile. B tiles (VNNI: pairs of
// consecutive k interleaved) are the 32-bit transposes of the A tiles.
struct Packed {
  uint16_t* a;
  uint16_t* b;
  int64_t mt, ks;
};

Packed layout(Scratch& s, int64_t m, int64_t k) {
  const int64_t mt = padded(m) / 16, ks = (k + 31) / 32;
  const size_t need = static_cast<size_t>(2 * mt * ks * kTile + 32);
  if (s.buf.size() < need) s.buf.resize(need);
  // 64-byte alignment for the tile loads.
  auto* p = s.buf.data();
  p += (64 - reinterpret_cast<uintptr_t>(p) % 64) % 64 / sizeof(uint16_t);
  return {p, p + mt * ks * kTile, mt, ks};
}

// GCC 12 flags its own intrinsics' _mm512_undefined_* temporaries (GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
// Tall: A(i, kk) = X[kk][i]. The B tile (rows kk = 2 p, 2 p + 1 interleaved)
// comes straight from two rows of X; the A tile is its 32-bit transpose.
// Column sums and squares are taken from the same registers, so X is read once.
CTSCOPE_AVX512 void pack_tn(const uint16_t* X, int64_t k, int64_t m, int64_t ld, const Packed& p, PanelStats& st) {
  StatParts part(worker_count(), 0);  // a worker's tiles are whole columns of X: it owns their sums
  parallel_for(p.mt, 1, [&](int64_t t0, int64_t t1, int w) {
    alignas(64) static constexpr uint16_t kInterleave[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                             8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    const __m512i idx = _mm512_load_si512(kInterleave);
    double* colsum = st.colsum;
    double ss = 0, sum = 0;
    // k steps outer: 32 whole rows of X at a time, read sequentially (a column
    // sweep would take a TLB miss per row).
    for (int64_t ks = 0; ks < p.ks; ++ks) {
      for (int64_t mt = t0; mt < t1; ++mt) {
        const int64_t i0 = mt * 16, ni = std::clamp<int64_t>(m - i0, 0, 16);
        const __mmask16 cols = static_cast<__mmask16>((1u << ni) - 1);
        __m512i r[16];
        Acc16 s1 = acc_zero(), s2 = acc_zero();
        for (int q = 0; q < 16; ++q) {
          const int64_t k0 = ks * 32 + 2 * q;
          const __m256i lo = k0 < k ? _mm256_maskz_loadu_epi16(cols, X + k0 * ld + i0) : _mm256_setzero_si256();
          const __m256i hi = k0 + 1 < k ? _mm256_maskz_loadu_epi16(cols, X + (k0 + 1) * ld + i0) : _mm256_setzero_si256();
          acc_add(s1, s2, bf16x16_to_ps(lo));
          acc_add(s1, s2, bf16x16_to_ps(hi));
          r[q] = _mm512_permutexvar_epi16(idx, _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1));
        }
        add_lanes(s1, colsum + i0, ni);
        sum += sum_lanes(s1);
        ss += sum_lanes(s2);
        uint16_t* b = p.b + (mt * p.ks + ks) * kTile;
        for (int q = 0; q < 16; ++q) _mm512_store_si512(b + q * 32, r[q]);
        transpose_store(r, p.a + (mt * p.ks + ks) * kTile);
      }
    }
    part.ss[w] += ss;
    part.sum[w] += sum;
  });
  part.add_to(st, 0);
}

// Wide: A(i, kk) = X[i][kk]: rows of X are already tile rows. Statistics as in pack_tn.
CTSCOPE_AVX512 void pack_nt(const uint16_t* X, int64_t m, int64_t k, int64_t ld, const Packed& p, PanelStats& st) {
  StatParts part(worker_count(), k);
  parallel_for(p.mt, 1, [&](int64_t t0, int64_t t1, int w) {
    double* colsum = part.colsum.data() + w * k;
    double ss = 0, sum = 0;
    for (int64_t mt = t0; mt < t1; ++mt) {
      const int64_t i0 = mt * 16, ni = std::clamp<int64_t>(m - i0, 0, 16);
      for (int64_t ks = 0; ks < p.ks; ++ks) {
        const int64_t nk = std::min<int64_t>(32, k - ks * 32);
        const __mmask32 ks_mask = nk == 32 ? ~__mmask32{0} : static_cast<__mmask32>((1u << nk) - 1);
        __m512i r[16];
        Acc16 s_lo = acc_zero(), s_hi = acc_zero(), s2 = acc_zero();
        for (int q = 0; q < 16; ++q) {
          r[q] = q < ni ? _mm512_maskz_loadu_epi16(ks_mask, X + (i0 + q) * ld + ks * 32) : _mm512_setzero_si512();
          acc_add(s_lo, s2, bf16x16_to_ps(_mm512_castsi512_si256(r[q])));
          acc_add(s_hi, s2, bf16x16_to_ps(_mm512_extracti64x4_epi64(r[q], 1)));
        }
        add_lanes(s_lo, colsum + ks * 32, std::min<int64_t>(nk, 16));
        if (nk > 16) add_lanes(s_hi, colsum + ks * 32 + 16, nk - 16);
        sum += sum_lanes(s_lo) + sum_lanes(s_hi);
        ss += sum_lanes(s2);
        uint16_t* a = p.a + (mt * p.ks + ks) * kTile;
        for (int q = 0; q < 16; ++q) _mm512_store_si512(a + q * 32, r[q]);
        transpose_store(r, p.b + (mt * p.ks + ks) * kTile);
      }
    }
    part.ss[w] += ss;
    part.sum[w] += sum;
  });
  part.add_to(st, k);
}

struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// G block rows [32 p, 32 p + 32) x cols [32 q, 32 q + 32) += A_p^T-side x B_q over all k steps.
// 2 x 2 FP32 accumulators (tiles 0-3), A tiles 4-5, B tiles 6-7.
__attribute__((target("amx-tile,amx-bf16,avx512f"))) inline void micro(const Packed& pk, int64_t p, int64_t q, float* G,
                                                                     int64_t ldg) {
  float* c = G + 32 * p * ldg + 32 * q;
  const auto stride = static_cast<long>(ldg * sizeof(float));
  _tile_loadd(0, c, stride);
  _tile_loadd(1, c + 16, stride);
  _tile_loadd(2, c + 16 * ldg, stride);
  _tile_loadd(3, c + 16 * ldg + 16, stride);
  const uint16_t* a0 = pk.a + (2 * p) * pk.ks * kTile;
  const uint16_t* a1 = a0 + pk.ks * kTile;
  const uint16_t* b0 = pk.b + (2 * q) * pk.ks * kTile;
  const uint16_t* b1 = b0 + pk.ks * kTile;
  for (int64_t ks = 0; ks < pk.ks; ++ks) {
    const int64_t o = ks * kTile;
    _tile_loadd(4, a0 + o, 64);
    _tile_loadd(5, a1 + o, 64);
    _tile_loadd(6, b0 + o, 64);
    _tile_loadd(7, b1 + o, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, c, stride);
  _tile_stored(1, c + 16, stride);
  _tile_stored(2, c + 16 * ldg, stride);
  _tile_stored(3, c + 16 * ldg + 16, stride);
}

__attribute__((target("amx-tile,amx-bf16,avx512f"))) void load_config() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  // GCC 12 does not model ldtilecfg as reading cfg: where this function is
  // not inlined it dropped the stores above (a configuration of zeros, then
  // SIGILL at the first tile instruction). The barrier keeps them.
  asm volatile("" : : "r"(&cfg) : "memory");
  _tile_loadconfig(&cfg);
}

__attribute__((target("amx-tile,amx-bf16,avx512f"))) void release() { _tile_release(); }

// Tiles run only on these long-lived threads, so the caller (which goes on to
// BLAS work) never carries the 8 KiB AMX state through its context switches,
// and no thread allocates and frees tile state per call.
ThreadPool& tile_pool() {
  static ThreadPool pool(worker_count());
  return pool;
}

// fn(worker, workers) on every tile thread, tiles configured; returns when all
// are done. Inside a parallel region (an analysis lane) the calling thread runs
// every worker's share itself, in order: the same partition, so the same sums.
template <typename Fn>
void run_on_tiles(Fn&& fn) {
  if (in_parallel_region()) {
    const int n = worker_count();
    load_config();
    for (int w = 0; w < n; ++w) fn(w, n);
    release();
    return;
  }
  const int n = tile_pool().threads();
  struct Ctx {
    Fn* fn;
    int n;
  } ctx{&fn, n};
  const ThreadPool::Job job = [](void* p, int w) {
    const auto& c = *static_cast<Ctx*>(p);
    load_config();  // tile configuration is per thread
    (*c.fn)(w, c.n);
    release();  // idle tile state back to init: cheap to save
  };
  if (!tile_pool().run(job, &ctx, n, 0, true)) throw Error("AMX: a tile job cannot start another");
}

// Blocks of kBlkPairs row pairs; block b and its mirror go to the same slice
// so every worker gets an equal share of the triangle.
void compute(const Packed& pk, float* G, int64_t ldg) {
  const int64_t pairs = pk.mt / 2, blocks = (pairs + kBlkPairs - 1) / kBlkPairs;
  auto block = [&](int64_t b) {
    const int64_t p0 = b * kBlkPairs, p1 = std::min(pairs, p0 + kBlkPairs);
    // The B panel of column pair q serves all row pairs of the block from L1/L2.
    for (int64_t q = p0; q < pairs; ++q)
      for (int64_t p = p0; p < std::min(p1, q + 1); ++p) micro(pk, p, q, G, ldg);
  };
  const int64_t halves = (blocks + 1) / 2;
  run_on_tiles([&](int w, int workers) {
    for (int64_t h = halves * w / workers; h < halves * (w + 1) / workers; ++h) {
      block(h);
      if (blocks - 1 - h != h) block(blocks - 1 - h);
    }
  });
}

// A 16 x 32 tile of X at (r0, c0), zero outside rows x k: the edges of X go
// through this copy so no load reads past the matrix (or multiplies garbage).
CTSCOPE_AVX512 void stage_a(const uint16_t* X, int64_t rows, int64_t k, int64_t ld, int64_t r0, int64_t c0,
                            uint16_t* dst) {
  const int64_t nk = std::clamp<int64_t>(k - c0, 0, 32);
  const __mmask32 mask = nk == 32 ? ~__mmask32{0} : static_cast<__mmask32>((1u << nk) - 1);
  for (int q = 0; q < 16; ++q)
    _mm512_store_si512(dst + q * 32, r0 + q < rows ? _mm512_maskz_loadu_epi16(mask, X + (r0 + q) * ld + c0)
                                                   : _mm512_setzero_si512());
}

// Rows [r0, r0 + 16) of Y for column tiles [t0, t0 + g), g <= 5: C tiles 0-4,
// A tile 5, B tiles 6 and 7 alternating so a load can overlap the previous product.
__attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl"))) void project_rows(
    const uint16_t* X, int64_t rows, int64_t k, int64_t ld, const ProjectionTiles& p, int64_t k0, int64_t r0, int t0,
    int g, float* Y, int64_t ldy) {
  alignas(64) uint16_t staged[kTile];
  alignas(64) float out[16 * 16];
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_zero(4);
  const int64_t kc = (k + 31) / 32, c_first = k0 / 32;
  const bool full_rows = r0 + 16 <= rows;
  for (int64_t c = 0; c < kc; ++c) {
    if (full_rows && (c + 1) * 32 <= k) {
      _tile_loadd(5, X + r0 * ld + c * 32, static_cast<long>(ld * 2));
    } else {
      stage_a(X, rows, k, ld, r0, c * 32, staged);
      _tile_loadd(5, staged, 64);
    }
    const uint16_t* b = p.buf.data() + ((c_first + c) * 3 * p.tiles + t0) * kTile;
    for (int part = 0; part < 3; ++part, b += p.tiles * kTile) {
      _tile_loadd(6, b, 64);
      _tile_dpbf16ps(0, 5, 6);
      if (g > 1) {
        _tile_loadd(7, b + kTile, 64);
        _tile_dpbf16ps(1, 5, 7);
      }
      if (g > 2) {
        _tile_loadd(6, b + 2 * kTile, 64);
        _tile_dpbf16ps(2, 5, 6);
      }
      if (g > 3) {
        _tile_loadd(7, b + 3 * kTile, 64);
        _tile_dpbf16ps(3, 5, 7);
      }
      if (g > 4) {
        _tile_loadd(6, b + 4 * kTile, 64);
        _tile_dpbf16ps(4, 5, 6);
      }
    }
  }
  const int64_t nr = std::min<int64_t>(16, rows - r0);
  for (int t = 0; t < g; ++t) {
    // Tile ids are immediates.
    switch (t) {
      case 0: _tile_stored(0, out, 64); break;
      case 1: _tile_stored(1, out, 64); break;
      case 2: _tile_stored(2, out, 64); break;
      case 3: _tile_stored(3, out, 64); break;
      default: _tile_stored(4, out, 64); break;
    }
    for (int64_t r = 0; r < nr; ++r)
      std::memcpy(Y + (r0 + r) * ldy + (t0 + t) * 16, out + r * 16, 16 * sizeof(float));
  }
}

#endif  // CTSCOPE_AMX

// G += X^T X (tall: X is k x m) or X X^T (wide: X is m x k).
void gram(bool tall, const uint16_t* X, int64_t m, int64_t k, int64_t ld, float* G, int64_t ldg, Scratch& s,
          PanelStats& st) {
#ifdef CTSCOPE_AMX
  if (k < 1 || m < 1) return;
  const Packed pk = layout(s, m, k);
  if (tall)
    pack_tn(X, k, m, ld, pk, st);
  else
    pack_nt(X, m, k, ld, pk, st);
  compute(pk, G, ldg);
#else
  (void)tall, (void)X, (void)m, (void)k, (void)ld, (void)G, (void)ldg, (void)s, (void)st;
  throw Error("AMX Gram: not built for this CPU");
#endif
}

}  // namespace

void pack_projection(const float* Q, int64_t d, int kq, ProjectionTiles& p) {
  const size_t n = static_cast<size_t>(d) * static_cast<size_t>(kq);
  if (p.d == d && p.kq == kq && p.source.size() == n && std::equal(Q, Q + n, p.source.begin())) return;
  p.source.assign(Q, Q + n);
  p.d = d;
  p.kq = kq;
  p.chunks = (d + 31) / 32;
  p.tiles = (kq + 15) / 16;
  p.buf.assign(static_cast<size_t>(p.chunks * 3 * p.tiles * 512 + 32), 0);
#ifdef CTSCOPE_AMX
  // Tile (chunk, part, t) at ((chunk * 3 + part) * tiles + t) * 512; VNNI:
  // element [r][2 j + e] is Q[chunk * 32 + 2 r + e][t * 16 + j].
  for (int64_t i = 0; i < d; ++i)
    for (int j = 0; j < kq; ++j) {
      const auto parts = bf16_parts(Q[i * kq + j]);
      const int64_t c = i / 32, r = (i % 32) / 2, e = i % 2;
      for (int part = 0; part < 3; ++part)
        p.buf[static_cast<size_t>(((c * 3 + part) * p.tiles + j / 16) * 512 + r * 32 + 2 * (j % 16) + e)] = parts[part];
    }
#else
  (void)Q;
#endif
}

void project(const uint16_t* X, int64_t rows, int64_t k, int64_t ld, const ProjectionTiles& p, int64_t k0, float* Y,
             int64_t ldy) {
#ifdef CTSCOPE_AMX
  if (rows < 1 || k < 1) return;
  if (k0 % 32 != 0 || k0 + k > p.d) throw Error("AMX projection: rows of Q out of range");
  const int64_t blocks = (rows + 15) / 16;
  const int groups = (p.tiles + 4) / 5;
  run_on_tiles([&](int w, int workers) {
    for (int64_t b = blocks * w / workers; b < blocks * (w + 1) / workers; ++b)
      for (int gi = 0; gi < groups; ++gi) {
        const int t0 = gi * 5;
        project_rows(X, rows, k, ld, p, k0, b * 16, t0, std::min(5, p.tiles - t0), Y, ldy);
      }
  });
#else
  (void)X, (void)rows, (void)k, (void)ld, (void)p, (void)k0, (void)Y, (void)ldy;
  throw Error("AMX projection: not built for this CPU");
#endif
}

bool available() {
#ifdef CTSCOPE_AMX
  static const bool hw = hardware_ready();
  return hw && !env_disabled();
#else
  return false;
#endif
}

bool configure_tiles() {
#ifdef CTSCOPE_AMX
  if (!available()) return false;
  load_config();
  return true;
#else
  return false;
#endif
}

void gram_tn(const uint16_t* X, int64_t k, int64_t m, int64_t ld, float* G, int64_t ldg, Scratch& s, PanelStats& st) {
  gram(true, X, m, k, ld, G, ldg, s, st);
}

void gram_nt(const uint16_t* X, int64_t m, int64_t k, int64_t ld, float* G, int64_t ldg, Scratch& s, PanelStats& st) {
  gram(false, X, m, k, ld, G, ldg, s, st);
}

}  // namespace ctscope::linalg::amx
