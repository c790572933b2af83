// Z = M X for the Krylov steps: M (m x m float, full, row-major) times a thin
// block X (m x b, row-major). BLAS packs all of M on every call, which costs
// as much as the arithmetic at b = 16..32; this kernel streams M once and keeps
// X in L2. Internal to ct/.
#pragma once
#include <cstdint>

namespace ctscope::ct {

// b must be a positive multiple of 16 for the AVX-512 kernel; otherwise (or
// without AVX-512) it falls back to SGEMM.
void thin_product(const float* M, int64_t m, const float* X, int b, float* Z);

}  // namespace ctscope::ct
