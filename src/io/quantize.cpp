#include "io/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "util/error.hpp"
#include "util/thread_pool.hpp"

namespace ctscope {
namespace {

void store_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

// Q8_0 (34 bytes): f16 d = amax / 127, then 32 int8 round(x / d).
void q8_0_block(const float* x, uint8_t* b) {
  float amax = 0;
  for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.f, id = d != 0 ? 1.f / d : 0.f;
  store_f16(b, d);
  for (int i = 0; i < 32; ++i) b[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(std::lround(x[i] * id)));
}

// Q4_0 (18 bytes): d = (the value of largest magnitude, with its sign) / -8,
// so that value maps to nibble 0 exactly; nibble = x / d + 8 rounded, at most
// 15. Elements 0..15 in the low nibbles, 16..31 in the high ones.
void q4_0_block(const float* x, uint8_t* b) {
  float amax = 0, vmax = 0;
  for (int i = 0; i < 32; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      vmax = x[i];
    }
  const float d = vmax / -8.f, id = d != 0 ? 1.f / d : 0.f;
  store_f16(b, d);
  auto nibble = [&](float v) { return static_cast<uint8_t>(std::min(15, static_cast<int>(v * id + 8.5f))); };
  for (int i = 0; i < 16; ++i) b[2 + i] = static_cast<uint8_t>(nibble(x[i]) | nibble(x[i + 16]) << 4);
}

// Q4_K (144 bytes per 256): f16 d, f16 dmin, 12 bytes holding 8 six-bit scales
// and 8 six-bit mins, 128 bytes of nibbles. Sub-block j's value is
// d * sc_j * q - dmin * m_j. Packing of scale/min j (llama.cpp's
// get_scale_min_k4 read backwards): j < 4: sc in bytes[j] bits 0-5, m in
// bytes[j + 4] bits 0-5; j >= 4: low 4 bits of sc and m in bytes[j + 4]
// (sc low nibble, m high nibble), their top 2 bits in bits 6-7 of bytes[j - 4]
// (sc) and bytes[j] (m). Nibbles: each 64 values take 32 bytes, the first 32
// in the low nibbles, the next 32 in the high ones.
void q4_k_block(const float* x, uint8_t* b) {
  float scale[8], min[8];  // min stored as a positive offset: value = scale * q - min
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    const float* s = x + 32 * j;
    const float lo = std::min(0.f, *std::min_element(s, s + 32)), hi = *std::max_element(s, s + 32);
    scale[j] = (hi - lo) / 15.f;
    min[j] = -lo;
    max_scale = std::max(max_scale, scale[j]);
    max_min = std::max(max_min, min[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f, inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t* packed = b + 4;
  std::memset(packed, 0, 12);
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = static_cast<uint8_t>(std::min(63L, std::lround(inv_scale * scale[j])));
    lm[j] = static_cast<uint8_t>(std::min(63L, std::lround(inv_min * min[j])));
    if (j < 4) {
      packed[j] = ls[j];
      packed[j + 4] = lm[j];
    } else {
      packed[j + 4] = static_cast<uint8_t>((ls[j] & 0xF) | (lm[j] & 0xF) << 4);
      packed[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
      packed[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
    }
  }
  store_f16(b, max_scale / 63.f);
  store_f16(b + 2, max_min / 63.f);
  // Nibbles against the scales as stored (f16 d and dmin, 6-bit factors).
  uint16_t h;
  std::memcpy(&h, b, 2);
  const float d = f16_to_f32(h);
  std::memcpy(&h, b + 2, 2);
  const float dmin = f16_to_f32(h);
  uint8_t L[256];
  for (int j = 0; j < 8; ++j) {
    const float dj = d * ls[j], mj = dmin * lm[j];
    for (int i = 0; i < 32; ++i)
      L[32 * j + i] = dj != 0 ? static_cast<uint8_t>(std::clamp(std::lround((x[32 * j + i] + mj) / dj), 0L, 15L)) : 0;
  }
  uint8_t* q = b + 16;
  for (int j = 0; j < 256; j += 64, q += 32)
    for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | L[j + l + 32] << 4);
}

template <typename BlockFn>
void blocks(const float* src, size_t n, size_t belems, size_t bbytes, uint8_t* dst, BlockFn fn) {
  const auto nblocks = static_cast<int64_t>(n / belems);
  parallel_for(nblocks, static_cast<int64_t>((1 << 16) / belems), [&](int64_t b0, int64_t b1, int) {
    for (auto i = static_cast<size_t>(b0); i < static_cast<size_t>(b1); ++i) fn(src + i * belems, dst + i * bbytes);
  });
}

}  // namespace

void quantize_from_f32(DType t, const float* src, size_t n, void* dst) {
  const auto& tr = traits(t);
  if (n % tr.block_elems != 0) throw Error(fmt::format("{}: {} values are not whole blocks of {}", tr.name, n, tr.block_elems));
  auto* out = static_cast<uint8_t*>(dst);
  switch (t) {
    case DType::Q8_0: return blocks(src, n, 32, 34, out, q8_0_block);
    case DType::Q4_0: return blocks(src, n, 32, 18, out, q4_0_block);
    case DType::Q4_K: return blocks(src, n, 256, 144, out, q4_k_block);
    default: throw Error(fmt::format("cannot quantize float32 to {}", tr.name));
  }
}

}  // namespace ctscope
