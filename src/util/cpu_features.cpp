#include "util/cpu_features.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define CTSCOPE_X86 1
#endif

namespace ctscope {

namespace {

#ifdef CTSCOPE_X86
// XCR0: which register states the OS saves on a context switch. A CPU can
// offer AVX-512 that the kernel (or a hypervisor) has not enabled.
unsigned long long xcr0() {
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  f.amd = b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163;  // "Auth" "enti" "cAMD"
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28);
  if (!osxsave || !avx) return f;
  const unsigned long long x = xcr0();
  const bool ymm_state = (x & 0x6) == 0x6, zmm_state = (x & 0xE6) == 0xE6;
  if (!ymm_state || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  const unsigned b7 = b, d7 = d;
  f.avx2_fma = (b7 & (1u << 5)) && fma;
  // F (16), DQ (17), BW (30), VL (31): what OpenBLAS's SkylakeX kernels and ours use.
  f.avx512 = zmm_state && (b7 & (1u << 16)) && (b7 & (1u << 17)) && (b7 & (1u << 30)) && (b7 & (1u << 31));
  f.amx_bf16 = (d7 & (1u << 22)) && (d7 & (1u << 24));
  if (f.avx512 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avx512_bf16 = a & (1u << 5);
  return f;
}
#else
CpuFeatures detect() { return {}; }
#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace ctscope
