// float32 to GGUF's block-quantized types (Q8_0, Q4_0, Q4_K), in llama.cpp's
// block layouts bit for bit, so that files we write read back in llama.cpp and
// in io/dtype.cpp's dequantizers. How each block's scales are chosen:
//  - Q8_0, Q4_0: as llama.cpp's reference quantizers (amax / 127; the signed
//    extreme / -8), so the bytes equal llama.cpp's for the same floats;
//  - Q4_K: simpler than llama.cpp's iterative search (make_qkx2_quants): each
//    sub-block of 32 takes min(0, its minimum) and (max - min) / 15 as its
//    scale, the 8 scales and mins are rounded to 6 bits against the
//    super-block's largest, and the nibbles are rounded against those 6-bit
//    scales. Same format, somewhat larger error than llama.cpp's choice.
#pragma once
#include <cstddef>

#include "io/dtype.hpp"

namespace ctscope {

// n must be a whole number of blocks of t (Q8_0/Q4_0: 32, Q4_K: 256); dst
// receives dtype_bytes(t, n) bytes. Throws Error for other types.
void quantize_from_f32(DType t, const float* src, size_t n, void* dst);

}  // namespace ctscope
