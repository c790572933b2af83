// The few Unicode facts the Hugging Face pre-tokenizers need: stepping through
// UTF-8 by code point, and the classes their split regexes name (\p{L}, \p{N},
// \s), plus whether NFC could change a code point. Tables come from
// scripts/gen_unicode_classes.py (Python's unicodedata).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ctscope::unicode {

// The code point starting at s[i] and its length in bytes. A byte that does not
// begin a well-formed UTF-8 sequence is one "code point" of length 1 whose value
// is 0xFFFFFFFF (no class), so hostile bytes are stepped over, never read past.
struct CodePoint {
  uint32_t cp;
  size_t len;
};
CodePoint next(std::string_view s, size_t i);

bool is_letter(uint32_t cp);      // general category L*
bool is_number(uint32_t cp);      // general category N*
bool is_whitespace(uint32_t cp);  // White_Space, as \s in the tokenizers' Oniguruma regexes
bool nfc_stable(uint32_t cp);     // NFC leaves it (and what precedes it) unchanged

}  // namespace ctscope::unicode
