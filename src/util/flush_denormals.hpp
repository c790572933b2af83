// Scoped flush-to-zero (FTZ) and denormals-are-zero (DAZ) for the calling
// thread's SSE/AVX arithmetic. A GEMM whose partial sums turn subnormal (the
// far tails of a Gaussian basis, 1e-30 and below, times activations) takes a
// microcode assist on every such FMA: 2.5-3x slower on Sapphire/Emerald
// Rapids. Flushing changes only results below 1.2e-38 (float) and 2.2e-308
// (double). Elsewhere than x86-64 it does nothing.
#pragma once

#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#endif

namespace ctscope {

class ScopedFlushDenormals {
 public:
#if defined(__x86_64__) || defined(_M_X64)
  static constexpr unsigned kFtzDaz = 0x8040;  // MXCSR bits 15 (FTZ) and 6 (DAZ)
  ScopedFlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFtzDaz); }
  ~ScopedFlushDenormals() { _mm_setcsr(saved_); }

 private:
  unsigned saved_;
#else
  ScopedFlushDenormals() = default;
#endif
 public:
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;
};

}  // namespace ctscope
