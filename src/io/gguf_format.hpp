// GGUF on-disk constants (ggml's gguf spec): the metadata value types and the
// ggml tensor type ids we can read. Shared by the reader, the writer and the tests.
#pragma once
#include <cstdint>
#include <optional>

#include "io/dtype.hpp"

namespace ctscope::gguf {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian uint32
constexpr uint32_t kMinVersion = 1;      // v1: 32-bit counts, string and array lengths, dims
constexpr uint32_t kMaxVersion = 3;      // v2/v3: 64-bit ones (v3 only adds big-endian files, which we reject)
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;
constexpr int kMaxArrayNesting = 8;      // bounds recursion on hostile files

enum class ValueType : uint32_t {
  UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6,
  Bool = 7, String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
};

// ggml_type ids (ggml.h); only the ones with a DType are listed.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, Q4_K = 12,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, BF16 = 30,
};

inline std::optional<DType> dtype_from_ggml(uint32_t id) {
  switch (static_cast<GgmlType>(id)) {
    case GgmlType::F32: return DType::F32;
    case GgmlType::F16: return DType::F16;
    case GgmlType::Q4_0: return DType::Q4_0;
    case GgmlType::Q8_0: return DType::Q8_0;
    case GgmlType::Q4_K: return DType::Q4_K;
    case GgmlType::I8: return DType::I8;
    case GgmlType::I16: return DType::I16;
    case GgmlType::I32: return DType::I32;
    case GgmlType::I64: return DType::I64;
    case GgmlType::F64: return DType::F64;
    case GgmlType::BF16: return DType::BF16;
  }
  return std::nullopt;
}

// The ggml type a writer stores `t` as (the inverse of dtype_from_ggml).
inline std::optional<GgmlType> ggml_from_dtype(DType t) {
  for (uint32_t id : {0u, 1u, 2u, 8u, 12u, 24u, 25u, 26u, 27u, 28u, 30u})
    if (dtype_from_ggml(id) == t) return static_cast<GgmlType>(id);
  return std::nullopt;
}

}  // namespace ctscope::gguf
