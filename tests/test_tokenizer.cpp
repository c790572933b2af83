// Tokenizers: llama2.c tokenizer.bin BPE against the documented encoding, byte
// fallback and decode, file validation, token-id files, GGUF vocabulary.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <sentencepiece_trainer.h>

#include "text/bpe_tokenizer.hpp"
#include "text/sentencepiece_tokenizer.hpp"
#include "text/token_ids.hpp"
#include "text/tokenizer.hpp"
#include "io/checkpoint.hpp"
#include "util/error.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace ctscope;

namespace {

using test_support::kModels;
using test_support::slurp;

#define REQUIRE_MODELS() CTSCOPE_REQUIRE_MODEL("tok512.bin")

fs::path temp_file(const std::string& name, const std::string& content) { return test_support::write_temp(name, content); }

}  // namespace

TEST(Tokenizer, Llama2cEncodesLikeRunC) {
  REQUIRE_MODELS();
  auto tok = load_llama2c_tokenizer(kModels / "tok512.bin", 512);
  EXPECT_EQ(tok->encode("Once upon a time", true), (std::vector<int32_t>{1, 403, 407, 261, 378}));
  EXPECT_EQ(tok->encode("Zoo", true), (std::vector<int32_t>{1, 410, 469, 347}));
  EXPECT_EQ(tok->encode("", true), (std::vector<int32_t>{1}));
  EXPECT_EQ(tok->encode("", false), (std::vector<int32_t>{}));
  EXPECT_EQ(tok->vocab_size(), 512);
}

TEST(Tokenizer, Llama2cDecodeStripsSpaceAfterBosAndMapsBytes) {
  REQUIRE_MODELS();
  auto tok = load_llama2c_tokenizer(kModels / "tok512.bin", 512);
  const auto ids = tok->encode("Once upon a time", true);
  std::string text;
  for (size_t i = 1; i < ids.size(); ++i) text += tok->decode(ids[i - 1], ids[i]);
  EXPECT_EQ(text, "Once upon a time");
  EXPECT_EQ(tok->decode(1, 13), "\n");  // <0x0A>
  // A codepoint not in the vocabulary falls back to its UTF-8 bytes (+3 in llama2.c).
  EXPECT_EQ(tok->encode("\xc3\xa9", false), (std::vector<int32_t>{410, 485}));  // é is a token
  const auto e = tok->encode("\xc3\xbc", false);                               // ü is not
  EXPECT_EQ(e, (std::vector<int32_t>{410, 0xc3 + 3, 0xbc + 3}));
  std::string round;
  for (size_t i = 0; i < e.size(); ++i) round += tok->decode(i ? e[i - 1] : 1, e[i]);
  EXPECT_EQ(round, "\xc3\xbc");
}

TEST(Tokenizer, Llama2cRejectsBadFiles) {
  REQUIRE_MODELS();
  const std::string good = slurp(kModels / "tok512.bin");
  auto trunc = temp_file("trunc.bin", good.substr(0, good.size() - 3));
  EXPECT_THROW(load_llama2c_tokenizer(trunc, 512), Error);
  try {
    load_llama2c_tokenizer(trunc, 512);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(trunc.string()), std::string::npos) << e.what();
  }
  // Wrong vocab size: too many tokens in the file for the model.
  EXPECT_THROW(load_llama2c_tokenizer(kModels / "tok512.bin", 500), Error);
  EXPECT_THROW(load_llama2c_tokenizer(kModels / "tok512.bin", 600), Error);
  std::string bad = good;
  const int32_t neg = -5;
  std::memcpy(bad.data() + 4 + 4, &neg, 4);  // length of token 0
  auto badlen = temp_file("badlen.bin", bad);
  EXPECT_THROW(load_llama2c_tokenizer(badlen, 512), Error);
  auto empty = temp_file("empty.bin", "");
  EXPECT_THROW(load_llama2c_tokenizer(empty, 512), Error);
  fs::remove(trunc);
  fs::remove(badlen);
  fs::remove(empty);
}

TEST(Tokenizer, SentencePieceStyleVocabularyMatchesLlama2c) {
  // A hand-made "▁" vocabulary behaves like the " " one.
  std::vector<std::string> p = {"<unk>", "<s>", "</s>", "\u2581", "a", "b", "\u2581a", "\u2581ab", "<0x21>"};
  std::vector<float> s = {0, 0, 0, -1, -2, -3, -0.5f, -0.1f, 0};
  BpeTokenizer tok(p, s, "\u2581", 1, 2);
  EXPECT_EQ(tok.encode("ab", true), (std::vector<int32_t>{1, 7}));
  EXPECT_EQ(tok.encode("ab!", false), (std::vector<int32_t>{7, 8}));
  EXPECT_EQ(tok.decode(1, 7), "ab");
  EXPECT_EQ(tok.decode(5, 7), " ab");
  EXPECT_EQ(tok.decode(7, 8), "!");
  // Equal scores: the leftmost pair merges first, as run.c's strict > scan.
  BpeTokenizer ties({"<unk>", "<s>", "</s>", "\u2581", "a", "aa"}, {0, 0, 0, -1, -1, -1}, "\u2581", 1, 2);
  EXPECT_EQ(ties.encode("aaa", false), (std::vector<int32_t>{3, 5, 4}));
  EXPECT_EQ(ties.encode("aaaaa", false), (std::vector<int32_t>{3, 5, 5, 4}));
}

TEST(Tokenizer, TokenIdFiles) {
  auto a = temp_file("ids.txt", "1\n403 407\n\n261\n");
  EXPECT_EQ(read_token_ids(a), (std::vector<int32_t>{1, 403, 407, 261}));
  auto b = temp_file("ids.json", " [1, 2, 3]\n");
  EXPECT_EQ(read_token_ids(b), (std::vector<int32_t>{1, 2, 3}));
  auto c = temp_file("bad.txt", "1\n2x\n");
  EXPECT_THROW(read_token_ids(c), Error);
  auto d = temp_file("bad.json", "[1, -2]");
  EXPECT_THROW(read_token_ids(d), Error);
  auto e = temp_file("empty.txt", "\n");
  EXPECT_THROW(read_token_ids(e), Error);
  EXPECT_THROW(check_token_ids({1, 600}, 512, "x"), Error);
  EXPECT_NO_THROW(check_token_ids({1, 511}, 512, "x"));
  for (auto& f : {a, b, c, d, e}) fs::remove(f);
}

TEST(Tokenizer, GgufVocabularyMatchesTokenizerBin) {
  REQUIRE_MODELS();
  const Checkpoint ck = Checkpoint::open(kModels / "tinyllamas-stories-260k-f32.gguf");
  auto gguf = open_tokenizer(ck, std::nullopt);
  auto bin = load_llama2c_tokenizer(kModels / "tok512.bin", 512);
  for (const char* text : {"Once upon a time", "Zoo", "Lily's mom said, \"Lily, let's go\"", "a  b\n\xc3\xbc!"}) {
    EXPECT_EQ(gguf->encode(text, true), bin->encode(text, true)) << text;
    const auto ids = bin->encode(text, true);
    std::string a, b;
    for (size_t i = 1; i < ids.size(); ++i) {
      a += gguf->decode(ids[i - 1], ids[i]);
      b += bin->decode(ids[i - 1], ids[i]);
    }
    EXPECT_EQ(a, b) << text;
    EXPECT_EQ(a, text);
  }
  EXPECT_EQ(gguf->encode("Once upon a time", true), (std::vector<int32_t>{1, 403, 407, 261, 378}));
}

TEST(Tokenizer, ResolutionAndVocabMismatch) {
  REQUIRE_MODELS();
  const Checkpoint bin = Checkpoint::open(kModels / "stories260K.bin");
  EXPECT_EQ(open_tokenizer(bin, std::nullopt)->vocab_size(), 512);  // tok512.bin beside it (test_model_path.cpp)
  EXPECT_EQ(open_tokenizer(bin, kModels / "tok512.bin")->vocab_size(), 512);
  const Checkpoint big = Checkpoint::open(kModels / "llama-2-tiny-random.gguf");
  EXPECT_THROW(open_tokenizer(big, kModels / "tok512.bin"), Error);  // 32000 vs 512
}

TEST(Tokenizer, SentencePieceModel) {
  // Train a tiny SentencePiece BPE model with byte fallback (as Llama's) here.
  const test_support::TempDir tmp("tok_sp");
  const fs::path& dir = tmp.path;
  std::string corpus;
  for (int i = 0; i < 200; ++i)
    corpus += "Once upon a time, there was a little girl named Lily. She loved to play outside in the park "
              + std::to_string(i) + ".\n";
  {
    std::ofstream(dir / "corpus.txt") << corpus;
  }
  const auto st = sentencepiece::SentencePieceTrainer::Train(
      "--input=" + (dir / "corpus.txt").string() + " --model_prefix=" + (dir / "sp").string() +
      " --vocab_size=300 --model_type=bpe --byte_fallback=true --minloglevel=2");
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto tok = load_sentencepiece_tokenizer(dir / "sp.model");
  EXPECT_EQ(tok->vocab_size(), 300);
  for (const char* text : {"Once upon a time", "Lily loves the park", "\xc3\xbc\xe2\x82\xac!"}) {
    const auto ids = tok->encode(text, true);
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids[0], tok->bos_id());
    std::string round;
    for (size_t i = 1; i < ids.size(); ++i) round += tok->decode(ids[i - 1], ids[i]);
    EXPECT_EQ(round, text);
  }
  EXPECT_THROW(load_sentencepiece_tokenizer(dir / "corpus.txt"), Error);
  EXPECT_THROW(load_sentencepiece_tokenizer(dir / "missing.model"), Error);
}

namespace {

// run.c's encode verbatim in spirit: linear lookups, a full rescan per merge.
std::vector<int32_t> naive_runc_encode(const std::vector<std::string>& vocab, const std::vector<float>& scores,
                                       const std::string& text) {
  auto find = [&](const std::string& s) -> int32_t {
    for (size_t i = 0; i < vocab.size(); ++i)
      if (vocab[i] == s) return static_cast<int32_t>(i);
    return -1;
  };
  std::vector<int32_t> t = {1};
  if (!text.empty()) t.push_back(find(" "));
  std::string cp;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) cp.clear();
    cp += text[i];
    if (i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80 && cp.size() < 4) continue;
    if (int32_t id = find(cp); id >= 0) t.push_back(id);
    else for (unsigned char b : cp) t.push_back(b + 3);
    cp.clear();
  }
  for (;;) {
    float best = -1e10f;
    int32_t best_id = -1;
    size_t at = 0;
    for (size_t i = 1; i + 1 < t.size(); ++i) {
      const int32_t id = find(vocab[static_cast<size_t>(t[i])] + vocab[static_cast<size_t>(t[i + 1])]);
      if (id >= 0 && scores[static_cast<size_t>(id)] > best) {
        best = scores[static_cast<size_t>(id)];
        best_id = id;
        at = i;
      }
    }
    if (best_id < 0) break;
    t[at] = best_id;
    t.erase(t.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
  return t;
}

}  // namespace

TEST(Tokenizer, MergeQueueEqualsNaiveRunCScan) {
  REQUIRE_MODELS();
  // Parse tok512.bin independently of the library.
  const std::string f = slurp(kModels / "tok512.bin");
  std::vector<std::string> vocab;
  std::vector<float> scores;
  size_t off = 4;
  for (int i = 0; i < 512; ++i) {
    float sc = 0;
    int32_t len = 0;
    std::memcpy(&sc, f.data() + off, 4);
    std::memcpy(&len, f.data() + off + 4, 4);
    vocab.emplace_back(f.data() + off + 8, static_cast<size_t>(len));
    scores.push_back(sc);
    off += 8 + static_cast<size_t>(len);
  }
  auto tok = load_llama2c_tokenizer(kModels / "tok512.bin", 512);
  const std::vector<std::string> words = {"Once", " upon", " a", " time", "the", "  ", "Lily", "ball", "!", "\n",
                                          "\xc3\xbc", "\xe2\x82\xac", "aaaa", "ing", "ed", " s", "x", "\xff"};
  uint32_t rng = 12345;
  for (int trial = 0; trial < 200; ++trial) {
    std::string text;
    const int n = trial % 20;
    for (int k = 0; k < n; ++k) {
      rng = rng * 1664525u + 1013904223u;
      text += words[(rng >> 8) % words.size()];
    }
    ASSERT_EQ(tok->encode(text, true), naive_runc_encode(vocab, scores, text)) << "text: " << text;
  }
}
