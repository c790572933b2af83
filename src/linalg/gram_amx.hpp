// Gram matrices of BF16 data on Intel AMX (TDPBF16PS): BF16 x BF16 products are
// exact in FP32, so this matches SSYRK on the converted floats up to the order
// of the FP32 sums.
#pragma once
#include <cstdint>
#include <vector>

#include "linalg/bf16_panel.hpp"

namespace ctscope::linalg::amx {

// The CPU has AMX-TILE and AMX-BF16, the kernel granted tile data to this
// process, and CTSCOPE_NO_AMX is unset (or "0"). The environment is read on
// every call so tests can switch paths.
bool available();

// Loads the kernels' tile configuration (8 tiles of 16 rows x 64 bytes) on
// the calling thread, for benchmarks that drive the tiles themselves; false
// where AMX is not available.
bool configure_tiles();

// Side of the float accumulator the kernels need for an m x m Gram.
inline int64_t padded(int64_t m) { return (m + 31) / 32 * 32; }

// Packed tiles, reused across calls.
struct Scratch {
  std::vector<uint16_t> buf;
};

using linalg::PanelStats;  // linalg/bf16_panel.hpp

// G += X^T X, X: k x m BF16 bits, row stride ld (a row panel, G over columns).
// G: float, padded(m) rows of stride ldg >= padded(m). Updates the 32 x 32
// blocks on and above the diagonal (so the upper triangle, plus the lower
// halves of the diagonal blocks); entries beyond m stay untouched when zero.
// st.colsum has m entries (X's columns).
void gram_tn(const uint16_t* X, int64_t k, int64_t m, int64_t ld, float* G, int64_t ldg, Scratch& s, PanelStats& st);
// G += X X^T, X: m x k BF16 bits, row stride ld (a column panel, G over rows).
// st.colsum has k entries (X's columns).
void gram_nt(const uint16_t* X, int64_t m, int64_t k, int64_t ld, float* G, int64_t ldg, Scratch& s, PanelStats& st);

// Q (d x kq float, row-major) as VNNI B tiles for X Q. Every value is split
// into three BF16 parts whose sum is the float exactly (8 + 8 + 8 significant
// bits), and BF16 x BF16 products are exact in FP32, so X Q here matches
// SGEMM on X converted to float up to the order of the FP32 sums, without
// ever converting X.
struct ProjectionTiles {
  int64_t d = 0, chunks = 0;  // 32-row chunks of Q
  int kq = 0, tiles = 0;      // 16-column tiles of Q
  std::vector<uint16_t> buf;
  std::vector<float> source;  // the Q packed last: the same Q again (the next matrix) is not repacked
  int64_t ycols() const { return 16 * static_cast<int64_t>(tiles); }
};
void pack_projection(const float* Q, int64_t d, int kq, ProjectionTiles& p);  // no-op when p holds this Q

// Y = X Q[k0 : k0 + k, :], X: rows x k BF16 bits with row stride ld, k0 a
// multiple of 32. Y: rows x p.ycols() floats, row stride ldy, overwritten
// (columns past kq come out zero).
void project(const uint16_t* X, int64_t rows, int64_t k, int64_t ld, const ProjectionTiles& p, int64_t k0, float* Y,
             int64_t ldy);

}  // namespace ctscope::linalg::amx
