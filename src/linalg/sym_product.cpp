#include "linalg/sym_product.hpp"

#include <algorithm>

#include "util/thread_pool.hpp"
#include "util/error.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace ctscope::linalg {

namespace {

constexpr int64_t kT = PackedSym::kTile;
constexpr int kR = 8;  // rows (or columns) of a tile per register block

// Zi[r] += sum_c T[r][c] Xj[c] for the kT rows of tile T. acc is a small
// fixed-size array the compiler keeps in vector registers (B = b floats).
template <int B>
[[maybe_unused]] void tile_rows(const float* T, const float* Xj, float* Zi) {
  for (int64_t r0 = 0; r0 < kT; r0 += kR) {
    float acc[kR][B] = {};
    for (int64_t c = 0; c < kT; ++c) {
      const float* x = Xj + c * B;
      for (int r = 0; r < kR; ++r) {
        const float t = T[(r0 + r) * kT + c];
        for (int k = 0; k < B; ++k) acc[r][k] += t * x[k];
      }
    }
    for (int r = 0; r < kR; ++r)
      for (int k = 0; k < B; ++k) Zi[(r0 + r) * B + k] += acc[r][k];
  }
}

// Zj[c] += sum_r T[r][c] Xi[r]: the transposed tile, read by rows as well.
template <int B>
[[maybe_unused]] void tile_cols(const float* T, const float* Xi, float* Zj) {
  for (int64_t c0 = 0; c0 < kT; c0 += kR) {
    float acc[kR][B] = {};
    for (int64_t r = 0; r < kT; ++r) {
      const float* x = Xi + r * B;
      for (int c = 0; c < kR; ++c) {
        const float t = T[r * kT + c0 + c];
        for (int k = 0; k < B; ++k) acc[c][k] += t * x[k];
      }
    }
    for (int c = 0; c < kR; ++c)
      for (int k = 0; k < B; ++k) Zj[(c0 + c) * B + k] += acc[c][k];
  }
}

#if defined(__AVX512F__)
// tile_rows with the kR x NV accumulators pinned in zmm registers (the plain
// loops above spill them), for the diagonal tiles.
template <int B>
void tile_rows_avx512(const float* T, const float* Xj, float* Zi) {
  constexpr int NV = B / 16;
  for (int64_t r0 = 0; r0 < kT; r0 += kR) {
    __m512 acc[kR][NV];
    for (int r = 0; r < kR; ++r)
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
    for (int64_t c = 0; c < kT; ++c) {
      __m512 x[NV];
      for (int v = 0; v < NV; ++v) x[v] = _mm512_loadu_ps(Xj + c * B + 16 * v);
      for (int r = 0; r < kR; ++r) {
        const __m512 t = _mm512_set1_ps(T[(r0 + r) * kT + c]);
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(t, x[v], acc[r][v]);
      }
    }
    for (int r = 0; r < kR; ++r)
      for (int v = 0; v < NV; ++v) {
        float* z = Zi + (r0 + r) * B + 16 * v;
        _mm512_storeu_ps(z, _mm512_add_ps(_mm512_loadu_ps(z), acc[r][v]));
      }
  }
}

// Both products of an off-diagonal tile in one sweep: each T[r][c] is loaded
// (broadcast) once and serves Zi[r] += T[r][c] Xj[c] and Zj[c] += T[r][c] Xi[r],
// with kRows rows of Xi and Zi held in registers: about half the loads of
// tile_rows plus tile_cols, which is what bounds them.
template <int B>
void tile_both_avx512(const float* T, const float* Xi, const float* Xj, float* Zi, float* Zj) {
  constexpr int NV = B / 16, kRows = 8 / NV;
  for (int64_t r0 = 0; r0 < kT; r0 += kRows) {
    __m512 acc[kRows][NV], xi[kRows][NV];
    for (int r = 0; r < kRows; ++r)
      for (int v = 0; v < NV; ++v) {
        acc[r][v] = _mm512_setzero_ps();
        xi[r][v] = _mm512_loadu_ps(Xi + (r0 + r) * B + 16 * v);
      }
    for (int64_t c = 0; c < kT; ++c) {
      __m512 xj[NV], zj[NV];
      for (int v = 0; v < NV; ++v) {
        xj[v] = _mm512_loadu_ps(Xj + c * B + 16 * v);
        zj[v] = _mm512_setzero_ps();
      }
      for (int r = 0; r < kRows; ++r) {
        const __m512 t = _mm512_set1_ps(T[(r0 + r) * kT + c]);
        for (int v = 0; v < NV; ++v) {
          acc[r][v] = _mm512_fmadd_ps(t, xj[v], acc[r][v]);
          zj[v] = _mm512_fmadd_ps(t, xi[r][v], zj[v]);
        }
      }
      for (int v = 0; v < NV; ++v) {
        float* z = Zj + c * B + 16 * v;
        _mm512_storeu_ps(z, _mm512_add_ps(_mm512_loadu_ps(z), zj[v]));
      }
    }
    for (int r = 0; r < kRows; ++r)
      for (int v = 0; v < NV; ++v) {
        float* z = Zi + (r0 + r) * B + 16 * v;
        _mm512_storeu_ps(z, _mm512_add_ps(_mm512_loadu_ps(z), acc[r][v]));
      }
  }
}
#define CT_TILE_ROWS tile_rows_avx512
#define CT_TILE_BOTH tile_both_avx512
#else
template <int B>
void tile_both(const float* T, const float* Xi, const float* Xj, float* Zi, float* Zj) {
  tile_rows<B>(T, Xj, Zi);
  tile_cols<B>(T, Xi, Zj);
}
#define CT_TILE_ROWS tile_rows
#define CT_TILE_BOTH tile_both
#endif

template <int B>
void sym_product_b(const PackedSym& P, const float* X, float* Z) {
  const int64_t nt = P.tiles, mp = P.padded();
  const int workers = worker_count();
  // Off-diagonal tiles add to rows another worker owns: one Z per worker.
  static thread_local std::vector<float> tl_part;
  std::vector<float>& part = tl_part;  // the workers must use this thread's buffer
  part.assign(static_cast<size_t>(workers) * mp * B, 0.0f);
  // Tile row I holds nt - I tiles: pair I with nt-1-I for balance.
  parallel_for((nt + 1) / 2, 1, [&](int64_t p0, int64_t p1, int w) {
    float* Zw = part.data() + static_cast<size_t>(w) * mp * B;
    auto tile_row = [&](int64_t I) {
      CT_TILE_ROWS<B>(P.tile(I, I), X + I * kT * B, Zw + I * kT * B);
      for (int64_t J = I + 1; J < nt; ++J) {
        CT_TILE_BOTH<B>(P.tile(I, J), X + I * kT * B, X + J * kT * B, Zw + I * kT * B, Zw + J * kT * B);
      }
    };
    for (int64_t p = p0; p < p1; ++p) {
      tile_row(p);
      if (nt - 1 - p != p) tile_row(nt - 1 - p);
    }
  });
  const size_t len = static_cast<size_t>(mp) * B;
  std::copy_n(part.data(), len, Z);
  for (int w = 1; w < workers; ++w)
    for (size_t i = 0; i < len; ++i) Z[i] += part[static_cast<size_t>(w) * len + i];
}

}  // namespace

void pack_upper(const std::vector<double>& U, int64_t m, PackedSym& P) {
  P.m = m;
  P.tiles = (m + kT - 1) / kT;
  const int64_t nt = P.tiles;
  P.data.resize(static_cast<size_t>(nt * (nt + 1) / 2 * kT * kT));
  // Whole rows of U go into tile rows (contiguous, vectorized conversions);
  // a diagonal tile then gets its lower triangle by mirroring in L1.
  auto tile = [&](int64_t I, int64_t J) {
    float* T = P.data.data() + P.offset(I, J);
    const int64_t j0 = J * kT, cols = std::clamp<int64_t>(m - j0, 0, kT);
    for (int64_t r = 0; r < kT; ++r) {
      const int64_t i = I * kT + r;
      float* t = T + r * kT;
      const int64_t c0 = I == J ? r : 0;  // diagonal tile: the upper triangle first
      if (i < m) {
        const double* u = U.data() + static_cast<size_t>(i * m + j0);
        for (int64_t c = c0; c < cols; ++c) t[c] = static_cast<float>(u[c]);
        std::fill(t + std::max(c0, cols), t + kT, 0.0f);
      } else {
        std::fill(t + c0, t + kT, 0.0f);
      }
    }
    if (I == J)
      for (int64_t r = 1; r < kT; ++r)
        for (int64_t c = 0; c < r; ++c) T[r * kT + c] = T[c * kT + r];
  };
  parallel_for((nt + 1) / 2, 1, [&](int64_t p0, int64_t p1, int) {
    auto tile_row = [&](int64_t I) {
      for (int64_t J = I; J < nt; ++J) tile(I, J);
    };
    for (int64_t p = p0; p < p1; ++p) {
      tile_row(p);
      if (nt - 1 - p != p) tile_row(nt - 1 - p);
    }
  });
}

void sym_product(const PackedSym& P, const float* X, int b, float* Z) {
  if (b == 16) return sym_product_b<16>(P, X, Z);
  if (b == 32) return sym_product_b<32>(P, X, Z);
  throw Error("sym_product: block size must be 16 or 32");
}

}  // namespace ctscope::linalg
