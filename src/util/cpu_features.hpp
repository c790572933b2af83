// What this x86-64 CPU (and the kernel, for the register state it saves)
// offers, read once with cpuid: the dispatch of the hand-written kernels and
// the check of OpenBLAS's kernel choice (linalg/blas_core) both ask here.
#pragma once

namespace ctscope {

struct CpuFeatures {
  bool avx2_fma = false;     // AVX2 and FMA3 (OpenBLAS's Haswell kernels)
  bool avx512 = false;       // AVX-512 F, BW, VL, DQ with the OS saving zmm state (SkylakeX kernels)
  bool avx512_bf16 = false;  // AVX512_BF16: vdpbf16ps (Cooper Lake, Sapphire Rapids, Zen 4)
  bool amx_bf16 = false;     // AMX-TILE and AMX-BF16 in the CPU (the kernel's permission is asked elsewhere)
  bool amd = false;          // vendor "AuthenticAMD" (its AVX-512 BF16 dot products run at twice the FMA's FLOP rate: measured on Zen 5)
};

// The features of the CPU this process runs on (all false off x86-64).
const CpuFeatures& cpu_features();

}  // namespace ctscope
