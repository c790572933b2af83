// The pre-tokenization regexes of the byte-level BPE tokenizers users have, as
// hand-written scanners (no regex engine: these patterns need Unicode classes
// and a look-ahead, and a scanner is linear time on any input):
//   GPT-2 (ByteLevel use_regex; SmolLM):
//     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   Llama 3 (Split, digits in groups of 1-3), and Qwen2 (single digits, \p{N}):
//     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//      ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// Each alternative is tried in order at each position, with the regex's
// leftmost-first, greedy-with-backtracking meaning; every character lies in
// some match, so the pieces are the matches.
#pragma once
#include <optional>
#include <string_view>
#include <vector>

namespace ctscope {

enum class SplitRegex { Gpt2, Llama3, Qwen2 };

// The scanner for a pattern string exactly as tokenizer.json spells it; nullopt
// for any other pattern.
std::optional<SplitRegex> known_split_regex(std::string_view pattern);
std::string_view split_regex_text(SplitRegex r);

// `text` cut into the regex's matches (they cover it, in order).
std::vector<std::string_view> split_by(std::string_view text, SplitRegex r);

// The Digits pre-tokenizer: every digit (\p{N}) alone, or each run of digits, as a piece.
std::vector<std::string_view> split_digits(std::string_view text, bool individual);

}  // namespace ctscope
