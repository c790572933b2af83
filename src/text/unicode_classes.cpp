#include "text/unicode_classes.hpp"

#include <algorithm>
#include <iterator>

namespace ctscope::unicode {
namespace {

struct CodeRange {
  uint32_t lo, hi;
};

#include "text/unicode_classes_data.inc"

template <size_t N>
bool in(const CodeRange (&table)[N], uint32_t cp) {
  const auto it = std::upper_bound(std::begin(table), std::end(table), cp,
                                   [](uint32_t c, const CodeRange& r) { return c < r.lo; });
  return it != std::begin(table) && cp <= std::prev(it)->hi;
}

}  // namespace

CodePoint next(std::string_view s, size_t i) {
  constexpr CodePoint bad{0xFFFFFFFFu, 1};
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  size_t len = 0;
  uint32_t cp = 0, min = 0;
  if ((b0 & 0xE0) == 0xC0) len = 2, cp = b0 & 0x1Fu, min = 0x80;
  else if ((b0 & 0xF0) == 0xE0) len = 3, cp = b0 & 0x0Fu, min = 0x800;
  else if ((b0 & 0xF8) == 0xF0) len = 4, cp = b0 & 0x07u, min = 0x10000;
  else return bad;
  if (i + len > s.size()) return bad;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return bad;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return bad;  // overlong, surrogate
  return {cp, len};
}

bool is_letter(uint32_t cp) { return in(kLetters, cp); }
bool is_number(uint32_t cp) { return in(kNumbers, cp); }
bool nfc_stable(uint32_t cp) { return cp != 0xFFFFFFFFu && !in(kNfcUnstable, cp); }

bool is_whitespace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

}  // namespace ctscope::unicode
