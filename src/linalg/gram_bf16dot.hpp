// Gram matrices of BF16 data with AVX-512 BF16 dot products (VDPBF16PS: Cooper
// Lake, Sapphire Rapids and later Xeons, AMD Zen 4), for CPUs without AMX.
// Each instruction adds two BF16 x BF16 products per float lane; the products
// are exact in FP32 (8 x 8 significant bits), so the result is SSYRK's on the
// converted floats up to the order of the FP32 sums: the only error against a
// double reference is the FP32 accumulation, as on the SSYRK and AMX paths
// (gram.cpp flushes the float sums into double every kFlushDepth rows).
// Unlike SSYRK it reads BF16 as stored: half the bytes, no float copy.
// VDPBF16PS treats BF16 subnormals (|x| < 1.2e-38) as zero; weights never hold them.
#pragma once
#include <cstdint>
#include <vector>

#include "linalg/bf16_panel.hpp"

namespace ctscope::linalg::bf16dot {

// The CPU has AVX512_BF16 (with the OS saving zmm state) and the kernel is
// chosen: by default on AMD (a Zen 5 EPYC runs VDPBF16PS, 32 products, at
// the rate of an FMA, 16: 396 against 213 GFLOP/s a core, bench_peak; the
// kernel 2.5x OpenBLAS SSYRK there, bench_gram; Zen 4 is expected to be alike
// but was not measured), off on Intel
// (Cooper Lake, Sapphire and Emerald Rapids issue it at half the FMA rate:
// 0.27 of SGEMM against SSYRK's 0.75 on Emerald Rapids, where AMX does the
// work anyway). CTSCOPE_AVX512BF16=1 forces it on, =0 off. The environment is
// read on every call so tests and benchmarks can switch paths.
bool available();

// Side of the blocks on the diagonal whose lower halves the kernels write too
// (the flush of gram.cpp clears them).
constexpr int64_t kBlock = 48;

// Packed BF16 pairs, reused across calls.
struct Scratch {
  std::vector<uint32_t> buf;
};

// G += X^T X, X: k x m BF16 bits, row stride ld (a row panel, G over columns).
// G: float, m rows of stride ldg >= m; updates the kBlock x kBlock blocks on
// and above the diagonal, within m x m. st.colsum has m entries (X's columns).
void gram_tn(const uint16_t* X, int64_t k, int64_t m, int64_t ld, float* G, int64_t ldg, Scratch& s, PanelStats& st);
// G += X X^T, X: m x k BF16 bits, row stride ld (a column panel, G over rows).
// st.colsum has k entries (X's columns).
void gram_nt(const uint16_t* X, int64_t m, int64_t k, int64_t ld, float* G, int64_t ldg, Scratch& s, PanelStats& st);

// Q (d x kq float, row-major) in three BF16 parts (bf16_parts) as VNNI words
// for X Q: word ((p * 3 + part) * vecs + v) * 16 + l holds that part of
// (Q[2p][16v + l], Q[2p + 1][16v + l]), zero past d and kq.
struct Projection {
  int64_t d = 0, pairs = 0;
  int kq = 0, vecs = 0;  // 16-column vectors
  std::vector<uint32_t> buf;
  std::vector<float> source;  // the Q packed last: the same Q again (the next matrix) is not repacked
  int64_t ycols() const { return 16 * static_cast<int64_t>(vecs); }
};
void pack_projection(const float* Q, int64_t d, int kq, Projection& p);  // no-op when p holds this Q

// Y = X Q[k0 : k0 + k, :], X: rows x k BF16 bits with row stride ld, k0 even.
// Y: rows x p.ycols() floats, row stride ldy, overwritten (columns past kq
// come out zero). X is read as stored: no float copy of the panel.
void project(const uint16_t* X, int64_t rows, int64_t k, int64_t ld, const Projection& p, int64_t k0, float* Y,
             int64_t ldy);

}  // namespace ctscope::linalg::bf16dot
