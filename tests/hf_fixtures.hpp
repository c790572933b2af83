// Hand-made tokenizer.json files for the tests: small, but shaped exactly like
// the real ones (TinyLlama / Llama 2, Llama 3, SmolLM), so the expected token
// ids can be derived by hand from the BPE rules (see test_hf_tokenizer_json.cpp).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ctscope::test_support {

// GPT-2's bytes_to_unicode, written out from its definition (encoder.py), not
// taken from the library: printable Latin-1 bytes stand for themselves, the
// other 68 bytes map to U+0100, U+0101, ... in byte order.
inline std::string gpt2_byte(unsigned b) {
  static const std::vector<unsigned> cps = [] {
    std::vector<unsigned> m(256);
    unsigned n = 0;
    for (unsigned x = 0; x < 256; ++x) {
      const bool keep = (x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
      m[x] = keep ? x : 0x100 + n++;
    }
    return m;
  }();
  const unsigned cp = cps[b];
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}
inline std::string gpt2_bytes(const std::string& bytes) {
  std::string s;
  for (unsigned char b : bytes) s += gpt2_byte(b);
  return s;
}

// SentencePiece-style BPE, 32 tokens (ids in the comments of the test).
// legacy = true: normalizer Prepend("▁") + Replace(" ", "▁"), merges as "a b"
// strings (TinyLlama's file); false: Metaspace(prepend_scheme "first"), merges as
// ["a", "b"] pairs (files written by tokenizers >= 0.20).
inline nlohmann::json sp_style_tokenizer(bool legacy) {
  using nlohmann::json;
  const std::vector<std::string> pieces = {
      "<unk>", "<s>", "</s>", "<0x0A>", "<0xF0>", "<0x9F>", "<0x99>", "<0x82>", "\xe4\xb8\x96" /*世*/, "\u2581",
      "h", "e", "l", "o", "\xc3\xa9" /*é*/, "a", "b", "1", "2", "3", "4", "5",
      "\u2581h", "ll", "\u2581h\xc3\xa9", "llo", "\u2581h\xc3\xa9llo", "12", "123", "\u2581a", "el", "\u2581\u2581"};
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"\u2581", "h"}, {"l", "l"}, {"\u2581h", "\xc3\xa9"}, {"ll", "o"}, {"\u2581h\xc3\xa9", "llo"},
      {"1", "2"}, {"12", "3"}, {"\u2581", "a"}, {"e", "l"}, {"\u2581", "\u2581"}};
  json vocab = json::object();
  for (size_t i = 0; i < pieces.size(); ++i) vocab[pieces[i]] = i;
  json m = json::array();
  for (const auto& [a, b] : merges) m.push_back(legacy ? json(a + " " + b) : json::array({a, b}));
  json added = json::array();
  for (int i = 0; i < 3; ++i)
    added.push_back({{"id", i}, {"content", pieces[static_cast<size_t>(i)]}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  json j = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added}};
  if (legacy) {
    j["normalizer"] = {{"type", "Sequence"},
                       {"normalizers", json::array({{{"type", "Prepend"}, {"prepend", "\u2581"}},
                                                    {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}}})}};
    j["pre_tokenizer"] = nullptr;
  } else {
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "first"}, {"split", false}};
  }
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
      {"pair", json::array()},
      {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}};
  j["decoder"] = {{"type", "Sequence"}, {"decoders", json::array()}};
  j["model"] = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"}, {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr}, {"fuse_unk", true}, {"byte_fallback", true}, {"ignore_merges", false},
                {"vocab", vocab}, {"merges", m}};
  return j;
}

// Byte-level BPE: ids 0..255 are the 256 bytes (id = byte value), then 15
// merged tokens and two added ones (ids in the test's comments).
// style "llama3": Split(Llama 3 regex) + ByteLevel(use_regex false), BOS
// <|begin_of_text|> from the template, ignore_merges as given;
// style "smollm": Digits(individual) + ByteLevel(use_regex true), no BOS.
inline nlohmann::json byte_level_tokenizer(const std::string& style, bool ignore_merges) {
  using nlohmann::json;
  json vocab = json::object();
  for (unsigned b = 0; b < 256; ++b) vocab[gpt2_byte(b)] = b;
  const std::string G = gpt2_byte(' '), C = gpt2_byte('\n'), e_acute = gpt2_bytes("\xc3\xa9");
  const std::vector<std::pair<std::string, std::string>> merges = {
      {G, "h"}, {gpt2_byte(0xC3), gpt2_byte(0xA9)}, {G + "h", e_acute}, {"l", "l"}, {"ll", "o"},
      {G + "h" + e_acute, "llo"}, {"1", "2"}, {"12", "3"}, {C, C}, {"n", "'"}, {"'", "t"},
      {"H", "e"}, {"He", "ll"}, {"Hell", "o"}};
  int32_t next = 256;
  json m = json::array();
  for (const auto& [a, b] : merges) {
    vocab[a + b] = next++;  // 256 .. 269
    m.push_back(a + " " + b);
  }
  vocab[G + "world"] = next++;  // 270: a token no merge reaches
  json added = json::array();
  for (const char* t : {"<|begin_of_text|>", "<|end_of_text|>"})  // 271, 272
    added.push_back({{"id", next++}, {"content", t}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                     {"normalized", false}, {"special", true}});
  json j = {{"version", "1.0"}, {"added_tokens", added}, {"normalizer", nullptr}};
  if (style == "llama3") {
    j["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers",
         json::array({{{"type", "Split"},
                       {"pattern",
                        {{"Regex", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                                   "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}}},
                       {"behavior", "Isolated"},
                       {"invert", false}},
                      {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}})}};
    j["post_processor"] = {
        {"type", "Sequence"},
        {"processors",
         json::array({{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}},
                      {{"type", "TemplateProcessing"},
                       {"single", json::array({{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
                                               {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
                       {"pair", json::array()},
                       {"special_tokens",
                        {{"<|begin_of_text|>", {{"id", "<|begin_of_text|>"}, {"ids", {271}}, {"tokens", {"<|begin_of_text|>"}}}}}}}})}};
  } else {
    j["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", true}},
                                       {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                                        {"use_regex", true}}})}};
    j["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
  }
  j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  j["model"] = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
                {"ignore_merges", ignore_merges}, {"vocab", vocab}, {"merges", m}};
  return j;
}

}  // namespace ctscope::test_support
