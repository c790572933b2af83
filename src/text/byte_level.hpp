// GPT-2's byte-to-unicode map (the ByteLevel pre-tokenizer and decoder of
// Hugging Face tokenizers): every byte becomes one printable code point, so a
// byte-level vocabulary spells any byte string ("Ġ" is the space byte 0x20).
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace ctscope {

// Each byte of `bytes` as its code point, in UTF-8.
std::string bytes_to_byte_level(std::string_view bytes);
// The inverse: nullopt if some code point is not in the map.
std::optional<std::string> byte_level_to_bytes(std::string_view text);

}  // namespace ctscope
