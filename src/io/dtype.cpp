#include "io/dtype.hpp"

#include <array>
#include <bit>
#include <cstring>

#include "util/error.hpp"
#include "util/thread_pool.hpp"

namespace ctscope {

namespace {
constexpr std::array<DTypeTraits, 15> kTraits{{
    {"F64", 1, 8, true},     {"F32", 1, 4, true},     {"F16", 1, 2, true},  {"BF16", 1, 2, true},
    {"I64", 1, 8, false},    {"I32", 1, 4, false},    {"I16", 1, 2, false}, {"I8", 1, 1, false},
    {"U8", 1, 1, false},     {"BOOL", 1, 1, false},   {"Q8_0", 32, 34, true}, {"Q4_0", 32, 18, true},
    {"Q4_K", 256, 144, true}, {"F8_E4M3", 1, 1, false}, {"F8_E5M2", 1, 1, false},
}};
}  // namespace

const DTypeTraits& traits(DType t) { return kTraits[static_cast<size_t>(t)]; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (size_t i = 0; i < kTraits.size(); ++i)
    if (kTraits[i].name == name) return static_cast<DType>(i);
  return std::nullopt;
}

std::optional<uint64_t> dtype_bytes(DType t, uint64_t n) {
  const auto& tr = traits(t);
  if (n % tr.block_elems != 0) return std::nullopt;
  uint64_t out = 0;
  if (mul_overflows(n / tr.block_elems, tr.block_bytes, &out)) return std::nullopt;
  return out;
}

float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

uint16_t f32_to_bf16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      int e = -1;
      do { ++e; mant <<= 1; } while ((mant & 0x400u) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 112) << 23 | mant << 13;
  }
  return std::bit_cast<float>(bits);
}

uint16_t f32_to_f16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  u &= 0x7fffffffu;
  if (u > 0x7f800000u) return sign | 0x7e00u;          // NaN
  if (u >= 0x477ff000u) return sign | 0x7c00u;         // overflow (incl. rounding up) -> inf
  if (u < 0x38800000u) {                               // subnormal or zero in f16
    if (u < 0x33000000u) return sign;                  // below half the smallest subnormal
    const uint32_t e = u >> 23, m = (u & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - e;                    // 14..24
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return sign | static_cast<uint16_t>(r);
  }
  u += 0xfffu + ((u >> 13) & 1u);
  return sign | static_cast<uint16_t>(((u >> 23) - 112) << 10 | ((u >> 13) & 0x3ffu));
}

namespace {

// Elements per parallel slice: enough to repay a wake-up; whole blocks of every block type.
constexpr size_t kChunk = 1 << 16;

// Loads through memcpy: safetensors aligns nothing, so a tensor's data may sit
// at any address (the compiler still emits plain loads).
uint16_t load_u16(const uint8_t* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }

void bf16_span(const uint8_t* s, size_t n, float* d) {
  for (size_t i = 0; i < n; ++i) d[i] = std::bit_cast<float>(static_cast<uint32_t>(load_u16(s + 2 * i)) << 16);
}
void f16_span(const uint8_t* s, size_t n, float* d) {
  for (size_t i = 0; i < n; ++i) d[i] = f16_to_f32(load_u16(s + 2 * i));
}

// GGUF Q8_0: block of 32 = f16 scale + 32 int8.
void q8_0_block(const uint8_t* b, float* d) {
  const float scale = f16_to_f32(load_u16(b));
  const auto* q = reinterpret_cast<const int8_t*>(b + 2);
  for (int i = 0; i < 32; ++i) d[i] = scale * static_cast<float>(q[i]);
}

// GGUF Q4_0: block of 32 = f16 scale + 16 bytes; low nibbles are elements 0..15,
// high nibbles 16..31; value = scale * (nibble - 8).
void q4_0_block(const uint8_t* b, float* d) {
  const float scale = f16_to_f32(load_u16(b));
  const uint8_t* q = b + 2;
  for (int i = 0; i < 16; ++i) {
    d[i] = scale * static_cast<float>((q[i] & 0x0f) - 8);
    d[i + 16] = scale * static_cast<float>((q[i] >> 4) - 8);
  }
}

// GGUF Q4_K super-block of 256: f16 d, f16 dmin, 12 bytes of packed 6-bit
// scales/mins for 8 sub-blocks of 32, then 128 bytes of nibbles.
void q4_k_scale_min(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}
void q4_k_block(const uint8_t* b, float* y) {
  const float d = f16_to_f32(load_u16(b));
  const float dmin = f16_to_f32(load_u16(b + 2));
  const uint8_t* scales = b + 4;
  const uint8_t* q = b + 16;
  int is = 0;
  for (int j = 0; j < 256; j += 64) {
    uint8_t sc, m;
    q4_k_scale_min(is + 0, scales, &sc, &m);
    const float d1 = d * sc, m1 = dmin * m;
    q4_k_scale_min(is + 1, scales, &sc, &m);
    const float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    q += 32;
    is += 2;
  }
}

template <typename BlockFn>
void blocks(const uint8_t* s, size_t nblocks, size_t bbytes, size_t belems, float* d, BlockFn fn) {
  parallel_for(static_cast<int64_t>(nblocks), static_cast<int64_t>(kChunk / belems), [&](int64_t b0, int64_t b1, int) {
    for (auto i = static_cast<size_t>(b0); i < static_cast<size_t>(b1); ++i) fn(s + i * bbytes, d + i * belems);
  });
}

}  // namespace

void convert_to_f32(DType t, const void* src, size_t n, float* dst) {
  const auto* s8 = static_cast<const uint8_t*>(src);
  const auto& tr = traits(t);
  if (n % tr.block_elems != 0) throw Error(fmt::format("{} tensor of {} elements is not whole blocks", tr.name, n));
  if (n == 0) return;  // an empty tensor's pointers may be null (memcpy must not see them)
  switch (t) {
    case DType::F32:
      std::memcpy(dst, src, n * 4);
      return;
    case DType::F64:
      for (size_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, s8 + 8 * i, 8);
        dst[i] = static_cast<float>(v);
      }
      return;
    case DType::BF16:
    case DType::F16: {
      parallel_for(static_cast<int64_t>(n), static_cast<int64_t>(kChunk), [&](int64_t i0, int64_t i1, int) {
        const auto b = static_cast<size_t>(i0), len = static_cast<size_t>(i1 - i0);
        if (t == DType::BF16) bf16_span(s8 + 2 * b, len, dst + b);
        else f16_span(s8 + 2 * b, len, dst + b);
      });
      return;
    }
    case DType::Q8_0: return blocks(s8, n / 32, 34, 32, dst, q8_0_block);
    case DType::Q4_0: return blocks(s8, n / 32, 18, 32, dst, q4_0_block);
    case DType::Q4_K: return blocks(s8, n / 256, 144, 256, dst, q4_k_block);
    default:
      throw Error(fmt::format("dtype {} cannot be converted to float32", tr.name));
  }
}

void convert_from_f32(DType t, const float* src, size_t n, void* dst) {
  if (n == 0) return;
  auto* out = static_cast<uint8_t*>(dst);
  switch (t) {
    case DType::F32:
      std::memcpy(out, src, n * 4);
      return;
    case DType::BF16:
    case DType::F16:
      for (size_t i = 0; i < n; ++i) {
        const uint16_t h = t == DType::BF16 ? f32_to_bf16(src[i]) : f32_to_f16(src[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    default:
      throw Error(fmt::format("cannot write {} from float32", traits(t).name));
  }
}

std::string torch_dtype(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::BF16: return "bfloat16";
    case DType::F16: return "float16";
    default: throw Error(fmt::format("{} has no torch dtype", traits(t).name));
  }
}

}  // namespace ctscope
