// Element types found in checkpoints, and the one fast step that turns any of
// them into float32. Block-quantized GGUF types store `block_elems` values in
// `block_bytes` bytes; plain types have block_elems == 1.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ctscope {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool, Q8_0, Q4_0, Q4_K, F8_E4M3, F8_E5M2 };

struct DTypeTraits {
  std::string_view name;  // safetensors spelling where one exists ("BF16"), else GGUF's ("Q4_K")
  uint32_t block_elems;
  uint32_t block_bytes;
  bool to_f32;  // convert_to_f32 supports it
};
const DTypeTraits& traits(DType t);
inline std::string_view dtype_name(DType t) { return traits(t).name; }
std::optional<DType> dtype_from_name(std::string_view name);  // safetensors names

// Bytes needed for n elements; nullopt when n is not a whole number of blocks
// or the product overflows.
std::optional<uint64_t> dtype_bytes(DType t, uint64_t n);

// Convert n elements starting at src to float32 (parallel for large n).
// n must be a whole number of blocks. Throws Error for unsupported types.
void convert_to_f32(DType t, const void* src, size_t n, float* dst);

// float32 to F32, BF16 or F16 (round to nearest even); other dtypes throw.
void convert_from_f32(DType t, const float* src, size_t n, void* dst);
// transformers' torch_dtype for F32, BF16, F16 ("float32", ...); others throw.
std::string torch_dtype(DType t);

// Scalar helpers (exact; used by writers and tests).
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);  // round to nearest even, NaN stays NaN
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);   // round to nearest even

}  // namespace ctscope
