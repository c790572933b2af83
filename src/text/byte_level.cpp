#include "text/byte_level.hpp"

#include <array>
#include <unordered_map>

#include "text/unicode_classes.hpp"

namespace ctscope {
namespace {

// Printable Latin-1 bytes stand for themselves; the other 68 take 256, 257, ...
// in byte order (bytes_to_unicode in GPT-2's encoder.py).
const std::array<uint32_t, 256>& byte_to_cp() {
  static const std::array<uint32_t, 256> map = [] {
    std::array<uint32_t, 256> m{};
    uint32_t n = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      m[b] = printable ? b : 256 + n++;
    }
    return m;
  }();
  return map;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else {  // the map's code points are all below 0x800
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

std::string bytes_to_byte_level(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) append_utf8(out, byte_to_cp()[b]);
  return out;
}

std::optional<std::string> byte_level_to_bytes(std::string_view text) {
  static const std::unordered_map<uint32_t, char> inverse = [] {
    std::unordered_map<uint32_t, char> m;
    for (uint32_t b = 0; b < 256; ++b) m.emplace(byte_to_cp()[b], static_cast<char>(b));
    return m;
  }();
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const auto c = unicode::next(text, i);
    const auto it = inverse.find(c.cp);
    if (it == inverse.end()) return std::nullopt;
    out += it->second;
    i += c.len;
  }
  return out;
}

}  // namespace ctscope
