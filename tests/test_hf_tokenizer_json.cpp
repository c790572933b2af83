// tokenizer.json (Hugging Face tokenizers): the split regexes against pieces
// checked with Python's `regex` module, hand-made SentencePiece-style and
// byte-level files whose token ids are derived by hand below from the BPE rules,
// a cross-check against the llama2.c tokenizer of stories260K, and hostile files.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "hf_fixtures.hpp"
#include "io/checkpoint.hpp"
#include "io/llama2c_tokenizer_file.hpp"
#include "text/bpe_tokenizer.hpp"
#include "text/hf_tokenizer_json.hpp"
#include "text/split_regex.hpp"
#include "util/error.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace ctscope;
using test_support::TempDir;
using test_support::write_bytes;
using Ids = std::vector<int32_t>;
using Pieces = std::vector<std::string_view>;

namespace {

std::unique_ptr<Tokenizer> from_json(const TempDir& d, const nlohmann::json& j, const std::string& name = "tokenizer.json") {
  write_bytes(d / name, j.dump());
  return load_hf_tokenizer_json(d / name, 1, 2);
}

// decode() token by token from the start, as generate prints.
std::string decode_all(const Tokenizer& t, const Ids& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += t.decode(i ? ids[i - 1] : -1, ids[i]);
  return s;
}

void expect_error(const fs::path& file, const std::string& what) {
  try {
    load_hf_tokenizer_json(file, 1, 2);
    ADD_FAILURE() << "no error for " << file << " (expected '" << what << "')";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(file.string() + ": "), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
}

}  // namespace

// Expected pieces from Python's `regex` module (re.findall with each pattern).
TEST(SplitRegex, Llama3MatchesRegexModule) {
  const auto r = SplitRegex::Llama3;
  EXPECT_EQ(split_by("Hello world", r), (Pieces{"Hello", " world"}));
  EXPECT_EQ(split_by("12345", r), (Pieces{"123", "45"}));
  EXPECT_EQ(split_by(" h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x99\x82", r),
            (Pieces{" h\xc3\xa9llo", " \xe4\xb8\x96\xe7\x95\x8c", " \xf0\x9f\x99\x82"}));
  EXPECT_EQ(split_by("a\n\nb", r), (Pieces{"a", "\n\n", "b"}));
  EXPECT_EQ(split_by("  x", r), (Pieces{" ", " x"}));
  EXPECT_EQ(split_by("don't DON'T", r), (Pieces{"don", "'t", " DON", "'T"}));
  EXPECT_EQ(split_by("Hi!!\n\nOk", r), (Pieces{"Hi", "!!\n\n", "Ok"}));
  EXPECT_EQ(split_by("abc123 4567", r), (Pieces{"abc", "123", " ", "456", "7"}));
  EXPECT_EQ(split_by("a \n b\t\tc   ", r), (Pieces{"a", " \n", " b", "\t", "\tc", "   "}));
  EXPECT_EQ(split_by("\xe3\x80\x80\xe3\x80\x80x", r), (Pieces{"\xe3\x80\x80", "\xe3\x80\x80x"}));  // U+3000
  EXPECT_EQ(split_by(" \n\n  y", r), (Pieces{" \n\n", " ", " y"}));
  EXPECT_EQ(split_by("", r), Pieces{});
  EXPECT_EQ(split_by("\xff\xfe", r), (Pieces{"\xff\xfe"}));  // not UTF-8: one run of "other"
}

TEST(SplitRegex, Qwen2AndGpt2MatchRegexModule) {
  EXPECT_EQ(split_by("abc123 4567", SplitRegex::Qwen2), (Pieces{"abc", "1", "2", "3", " ", "4", "5", "6", "7"}));
  EXPECT_EQ(split_by("Hi!!\n\nOk", SplitRegex::Qwen2), (Pieces{"Hi", "!!\n\n", "Ok"}));
  const auto g = SplitRegex::Gpt2;
  EXPECT_EQ(split_by("12345", g), (Pieces{"12345"}));
  EXPECT_EQ(split_by("a\n\nb", g), (Pieces{"a", "\n", "\n", "b"}));
  EXPECT_EQ(split_by("don't DON'T", g), (Pieces{"don", "'t", " DON", "'", "T"}));
  EXPECT_EQ(split_by("Hi!!\n\nOk", g), (Pieces{"Hi", "!!", "\n", "\n", "Ok"}));
  EXPECT_EQ(split_by("abc123 4567", g), (Pieces{"abc", "123", " 4567"}));
  EXPECT_EQ(split_by("a \n b\t\tc   ", g), (Pieces{"a", " \n", " b", "\t", "\t", "c", "   "}));
  EXPECT_EQ(split_by("\xe3\x80\x80\xe3\x80\x80x", g), (Pieces{"\xe3\x80\x80", "\xe3\x80\x80", "x"}));
  EXPECT_EQ(split_by(" \n\n  y", g), (Pieces{" \n\n ", " y"}));
  EXPECT_EQ(split_digits("ab12c3", true), (Pieces{"ab", "1", "2", "c", "3"}));
  EXPECT_EQ(split_digits("ab12c3", false), (Pieces{"ab", "12", "c", "3"}));
  EXPECT_FALSE(known_split_regex("\\s+"));
}

// Ids of the SentencePiece-style fixture (hf_fixtures.hpp): 0 <unk>, 1 <s>, 2 </s>,
// 3 <0x0A>, 4-7 <0xF0> <0x9F> <0x99> <0x82>, 8 世, 9 ▁, 10 h, 11 e, 12 l, 13 o,
// 14 é, 15 a, 16 b, 17-21 "1".."5", 22 ▁h, 23 ll, 24 ▁hé, 25 llo, 26 ▁héllo,
// 27 12, 28 123, 29 ▁a, 30 el, 31 ▁▁. Merge ranks: r0 ▁+h, r1 l+l, r2 ▁h+é,
// r3 ll+o, r4 ▁hé+llo, r5 1+2, r6 12+3, r7 ▁+a, r8 e+l, r9 ▁+▁.
TEST(HfTokenizerJson, SentencePieceStyleByHand) {
  const TempDir d("hf_sp");
  for (bool legacy : {true, false}) {
    SCOPED_TRACE(legacy ? "Prepend+Replace normalizer, \"a b\" merges" : "Metaspace, [a, b] merges");
    auto t = from_json(d, test_support::sp_style_tokenizer(legacy));
    EXPECT_EQ(t->vocab_size(), 32);
    EXPECT_EQ(t->bos_id(), 1);
    // "▁héllo": ▁+h (r0) -> ▁h é l l o; l+l (r1) -> ▁h é ll o; ▁h+é (r2); ll+o (r3);
    // ▁hé+llo (r4) -> ▁héllo.
    EXPECT_EQ(t->encode("h\xc3\xa9llo", true), (Ids{1, 26}));
    // Leading space, legacy: "▁▁hello". r0 (▁+h at 1) beats r9 (▁+▁), which is
    // then stale; l+l (r1) beats e+l (r8), then ll+o (r3): ▁ ▁h e llo.
    // Metaspace prepends ▁ only where the text does not begin with one
    // (metaspace.rs), so " hello" is "▁hello": ▁h e llo.
    EXPECT_EQ(t->encode(" hello", true), legacy ? (Ids{1, 9, 22, 11, 25}) : (Ids{1, 22, 11, 25}));
    // Digits merge as the ranks say: 1+2 (r5), 12+3 (r6); no 4+5.
    EXPECT_EQ(t->encode("12345", true), (Ids{1, 9, 28, 20, 21}));
    // "\n" is not a token: its byte <0x0A>. ▁+a (r7).
    EXPECT_EQ(t->encode("a\n\nb", true), (Ids{1, 29, 3, 3, 16}));
    // 世 is a token; 界 is not and its bytes are not either: <unk>; 🙂 is its 4 bytes.
    EXPECT_EQ(t->encode("h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x99\x82", true),
              (Ids{1, 26, 9, 8, 0, 9, 4, 5, 6, 7}));
    // fuse_unk: two unknown characters in a row are one <unk>.
    EXPECT_EQ(t->encode("\xe4\xb8\x96\xe7\x95\x8c\xe7\x95\x8c", true), (Ids{1, 9, 8, 0}));
    EXPECT_EQ(t->encode("", true), (Ids{1}));
    EXPECT_EQ(t->encode("a", false), (Ids{29}));
    // An added token in the text is matched whole. The legacy normalizer prepends
    // ▁ to every stretch between added tokens; Metaspace "first" only at the start.
    EXPECT_EQ(t->encode("a</s>b", true), legacy ? (Ids{1, 29, 2, 9, 16}) : (Ids{1, 29, 2, 16}));
    // Decoding: ▁ is a space, <0xNN> a byte, the dummy-prefix space after BOS dropped.
    for (const char* s : {"h\xc3\xa9llo", "12345", "a\n\nb", "\xf0\x9f\x99\x82 a"})
      EXPECT_EQ(decode_all(*t, t->encode(s, true)), s);
    // The leading space survives the legacy round trip; Metaspace loses it, as in tokenizers.
    EXPECT_EQ(decode_all(*t, t->encode(" hello", true)), legacy ? " hello" : "hello");
  }
}

// Ids of the byte-level fixture: 0..255 the bytes (id = byte value; Ġ is 32,
// Ċ is 10), then 256 Ġh, 257 Ã© (é's bytes), 258 ĠhÃ©, 259 ll, 260 llo, 261
// ĠhÃ©llo, 262 12, 263 123, 264 ĊĊ, 265 n', 266 't, 267 He, 268 Hell, 269 Hello
// (merge ranks r0..r13 in that order), 270 Ġworld (no merge makes it),
// 271 <|begin_of_text|>, 272 <|end_of_text|>.
TEST(HfTokenizerJson, Llama3StyleByHand) {
  const TempDir d("hf_l3");
  auto t = from_json(d, test_support::byte_level_tokenizer("llama3", /*ignore_merges=*/false));
  EXPECT_EQ(t->vocab_size(), 273);
  EXPECT_EQ(t->bos_id(), 271);
  // "Hello": l+l (r3), ll+o (r4), H+e (r11) -> He llo (no He+llo merge).
  // " world" -> Ġ w o r l d: no merge applies.
  EXPECT_EQ(t->encode("Hello world", true), (Ids{271, 267, 260, 32, 119, 111, 114, 108, 100}));
  // Pieces "123" "45": 1+2 (r6), 12+3 (r7); 4 5 stay bytes.
  EXPECT_EQ(t->encode("12345", true), (Ids{271, 263, 52, 53}));
  // " héllo" -> Ġ h Ã © l l o: r0, r1, r2, r3, r4, r5 -> ĠhÃ©llo; " 世界" and " 🙂" are bytes.
  EXPECT_EQ(t->encode(" h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x99\x82", true),
            (Ids{271, 261, 32, 0xE4, 0xB8, 0x96, 0xE7, 0x95, 0x8C, 32, 0xF0, 0x9F, 0x99, 0x82}));
  // Pieces "a" "\n\n" "b": Ċ+Ċ (r8).
  EXPECT_EQ(t->encode("a\n\nb", true), (Ids{271, 97, 264, 98}));
  // Pieces "don" "'t": '+t (r10). Were "don't" one piece, n+' (r9) would win: d o n' t.
  EXPECT_EQ(t->encode("don't", true), (Ids{271, 100, 111, 110, 266}));
  // Added tokens are recognized in the text and not split.
  EXPECT_EQ(t->encode("<|begin_of_text|>Hi<|end_of_text|>", false), (Ids{271, 72, 105, 272}));
  for (const char* s : {"Hello world", "12345", " h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x99\x82", "a\n\nb", "don't"})
    EXPECT_EQ(decode_all(*t, t->encode(s, false)), s);
  EXPECT_EQ(t->decode(271, 272), "");  // special tokens print nothing

  // ignore_merges (Llama 3 sets it): a piece that is a token is taken whole.
  auto whole = from_json(d, test_support::byte_level_tokenizer("llama3", /*ignore_merges=*/true), "whole.json");
  EXPECT_EQ(whole->encode("Hello world", true), (Ids{271, 269, 270}));
}

TEST(HfTokenizerJson, SmolLmStyleByHand) {
  const TempDir d("hf_smol");
  auto t = from_json(d, test_support::byte_level_tokenizer("smollm", false));
  // No template: no BOS is added even when asked.
  EXPECT_EQ(t->encode("12345", true), (Ids{49, 50, 51, 52, 53}));  // Digits: one piece per digit
  EXPECT_EQ(t->encode("a\n\nb", true), (Ids{97, 10, 10, 98}));     // GPT-2 regex: "\n" "\n"
  EXPECT_EQ(t->encode("don't", true), (Ids{100, 111, 110, 266}));
  EXPECT_EQ(t->encode("Hello world", true), (Ids{267, 260, 32, 119, 111, 114, 108, 100}));
  EXPECT_EQ(t->encode(" h\xc3\xa9llo", true), (Ids{261}));
}

// tok512.bin (stories260K's llama2.c tokenizer) written as a tokenizer.json the
// way transformers' converter does for SentencePiece BPE: ▁ for spaces, every
// split (a, b) of a token into two tokens is a merge, ranked by the token's
// score (best first). Must tokenize like the llama2.c merge-by-score path.
TEST(HfTokenizerJson, MatchesLlama2cTokenizerOnStories260K) {
  CTSCOPE_REQUIRE_MODEL("tok512.bin");
  const Vocabulary v = read_llama2c_tokenizer(test_support::kModels / "tok512.bin", 512);
  nlohmann::json vocab = nlohmann::json::object();
  std::unordered_map<std::string, int> id;
  std::vector<std::string> sp(v.tokens.size());
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    std::string s;
    for (char c : v.tokens[i]) s += c == ' ' ? std::string("\u2581") : std::string(1, c);
    sp[i] = s;
    vocab[s] = i;
    id[s] = static_cast<int>(i);
  }
  std::vector<size_t> order;
  for (size_t i = 3 + 256; i < sp.size(); ++i) order.push_back(i);  // after <unk> <s> </s> and 256 bytes
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v.scores[a] > v.scores[b]; });
  nlohmann::json merges = nlohmann::json::array();
  for (size_t i : order) {
    std::vector<std::pair<int, int>> splits;
    for (size_t k = 1; k < sp[i].size(); ++k) {
      auto a = id.find(sp[i].substr(0, k)), b = id.find(sp[i].substr(k));
      if (a != id.end() && b != id.end() && a->second >= 259 && b->second >= 259) splits.emplace_back(a->second, b->second);
    }
    std::sort(splits.begin(), splits.end());
    for (auto [a, b] : splits) merges.push_back(sp[static_cast<size_t>(a)] + " " + sp[static_cast<size_t>(b)]);
  }
  nlohmann::json j = test_support::sp_style_tokenizer(true);
  for (int i = 0; i < 3; ++i) j["added_tokens"][i]["content"] = sp[static_cast<size_t>(i)];  // "\n<s>\n" in tok512
  j["model"]["vocab"] = vocab;
  j["model"]["merges"] = merges;
  j["model"]["fuse_unk"] = true;
  const TempDir d("hf_tok512");
  auto hf = from_json(d, j);
  auto bin = load_llama2c_tokenizer(test_support::kModels / "tok512.bin", 512);
  ASSERT_EQ(hf->vocab_size(), 512);
  for (const char* text : {"Once upon a time", "Zoo", "Lily's mom said, \"Lily, let's go\"", "a  b\n\xc3\xbc!",
                           " leading space", "12345 apples", "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x99\x82",
                           "She was happy.\n\nThe end."}) {
    EXPECT_EQ(hf->encode(text, true), bin->encode(text, true)) << text;
    EXPECT_EQ(decode_all(*hf, hf->encode(text, true)), text);
  }
  EXPECT_EQ(hf->encode("Once upon a time", true), (Ids{1, 403, 407, 261, 378}));
}

TEST(HfTokenizerJson, MalformedFilesAreOneLineErrors) {
  const TempDir d("hf_bad");
  auto bad = [&](const std::string& name, const std::string& text, const std::string& what) {
    write_bytes(d / name, text);
    expect_error(d / name, what);
  };
  bad("notjson.json", "{\"model\": ", "not valid JSON");
  bad("array.json", "[1, 2]", "expected a JSON object");
  bad("nomodel.json", "{}", "model: missing");
  bad("deep.json", std::string(100000, '[') + std::string(100000, ']'), "expected a JSON object");
  auto edit = [&](const std::string& name, auto change, const std::string& what) {
    auto j = test_support::sp_style_tokenizer(true);
    change(j);
    bad(name, j.dump(), what);
  };
  edit("wordpiece.json", [](auto& j) { j["model"]["type"] = "WordPiece"; }, "model.type: 'WordPiece' is not supported");
  edit("vocabstr.json", [](auto& j) { j["model"]["vocab"]["h"] = "x"; }, "model.vocab[\"h\"]: expected a token id");
  edit("vocabneg.json", [](auto& j) { j["model"]["vocab"]["h"] = -1; }, "expected a token id");
  edit("vocabhuge.json", [](auto& j) { j["model"]["vocab"]["h"] = 1LL << 40; }, "expected a token id");
  edit("dupid.json", [](auto& j) { j["model"]["vocab"]["h"] = 11; }, "id 11 is given to both");
  edit("merge3.json", [](auto& j) { j["model"]["merges"][0] = "a b c"; }, "model.merges[0]: expected \"a b\"");
  edit("mergenum.json", [](auto& j) { j["model"]["merges"][1] = 5; }, "model.merges[1]");
  edit("mergeoov.json", [](auto& j) { j["model"]["merges"][2] = "x y"; }, "model.merges[2] ('x' 'y') names a token");
  edit("unk.json", [](auto& j) { j["model"]["unk_token"] = "<nope>"; }, "model.unk_token");
  edit("added.json", [](auto& j) { j["added_tokens"][0]["id"] = "zero"; }, "added_tokens[0].id");
  edit("norm.json", [](auto& j) { j["normalizer"] = {{"type", "Lowercase"}}; }, "normalizer.type: normalizer 'Lowercase'");
  edit("regex.json", [](auto& j) {
    j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "\\s+"}}}, {"behavior", "Isolated"}, {"invert", false}};
  }, "pre_tokenizer.pattern.Regex");
  edit("tmpl.json", [](auto& j) { j["post_processor"]["special_tokens"] = nlohmann::json::object(); },
       "post_processor.special_tokens: does not define '<s>'");
  edit("prefix.json", [](auto& j) { j["model"]["continuing_subword_prefix"] = "##"; }, "continuing_subword_prefix");
  expect_error(d / "missing.json", "");
}

TEST(HfTokenizerJson, NfcNormalizerRefusesTextItCannotNormalize) {
  const TempDir d("hf_nfc");
  auto j = test_support::byte_level_tokenizer("llama3", false);
  j["normalizer"] = {{"type", "NFC"}};
  auto t = from_json(d, j);
  EXPECT_EQ(t->encode(" h\xc3\xa9llo", false), (Ids{261}));  // precomposed é: NFC already
  EXPECT_THROW(t->encode("he\xcc\x81llo", false), Error);     // e + U+0301: NFC would compose it
}
