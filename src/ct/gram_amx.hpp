// Gram matrices of BF16 data on Intel AMX (TDPBF16PS): BF16 x BF16 products are
// exact in FP32, so this matches SSYRK on the converted floats up to the order
// of the FP32 sums. Internal to ct/.
#pragma once
#include <cstdint>
#include <vector>

namespace ctscope::ct::amx {

// The CPU has AMX-TILE and AMX-BF16, the kernel granted tile data to this
// process, and CTSCOPE_NO_AMX is unset (or "0"). The environment is read on
// every call so tests can switch paths.
bool available();

// Side of the float accumulator the kernels need for an m x m Gram.
inline int64_t padded(int64_t m) { return (m + 31) / 32 * 32; }

// Packed tiles, reused across calls.
struct Scratch {
  std::vector<uint16_t> buf;
};

// G += X^T X, X: k x m BF16 bits, row stride ld elements (a row panel, G over columns).
// G: float, padded(m) rows of stride ldg >= padded(m). Updates the 32 x 32
// blocks on and above the diagonal (so the upper triangle, plus the lower
// halves of the diagonal blocks); entries beyond m stay untouched when zero.
void gram_tn(const uint16_t* X, int64_t k, int64_t m, int64_t ld, float* G, int64_t ldg, Scratch& s);
// G += X X^T, X: m x k BF16 bits, row stride ld (a column panel, G over rows).
void gram_nt(const uint16_t* X, int64_t m, int64_t k, int64_t ld, float* G, int64_t ldg, Scratch& s);

}  // namespace ctscope::ct::amx
