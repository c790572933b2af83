// The .ct.safetensors as a model in its own right: inspect shows the source
// model, basis, K and how each tensor is kept; the vocabulary travels with the
// file (GGUF's own, or a llama2.c tokenizer.bin) so generate needs no
// --tokenizer, on the file and on its reconstruction alike; commands that
// measure dense weights refuse it with one line saying what to do.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "ctfile/ct_format.hpp"
#include "ctfile/ct_reader.hpp"
#include "ctfile/ct_vocab.hpp"
#include "ctfile/ct_weights.hpp"
#include "ctfile/ct_writer.hpp"
#include "ctfile/tokenizer_model_file.hpp"
#include "io/checkpoint.hpp"
#include "io/llama2c_tokenizer_file.hpp"
#include "io/safetensors_writer.hpp"
#include "text/bpe_tokenizer.hpp"
#include "text/sentencepiece_tokenizer.hpp"
#include "text/tokenizer.hpp"
#include "util/error.hpp"
#include "test_support.hpp"

using namespace ctscope;
namespace fs = std::filesystem;
using test_support::kModels;
using test_support::run_cli;
using test_support::TempDir;

namespace {

const char* kGguf = "tinyllamas-stories-260k-f32.gguf";

// Strings where tokenizers tend to disagree: leading and repeated spaces,
// digits, multi-byte UTF-8 (some of it missing from a 512-token vocabulary:
// byte fallback), newlines and tabs.
const char* const kTricky[] = {"Once upon a time",   " leading space", "two  spaces  here", "digits 1234567890",
                               "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82", "new\nline\n\nend",
                               "tab\there",          "Lily's mom said, \"Lily, let's go!\"", "a"};

// `generate` as token ids: stdout, with the exit code checked.
std::string generate_ids(const std::string& model, const std::string& extra = "") {
  const auto r = run_cli("generate " + model + " --prompt \"Once upon a time\" -n 40 --ids " + extra);
  EXPECT_EQ(r.code, 0) << model << ": " << r.err;
  return r.out;
}

// The stored vocabulary read back by a tokenizer.model written from it encodes
// exactly like the BPE tokenizer ctscope builds from that vocabulary.
void expect_same_encoding(const Tokenizer& a, const Tokenizer& b) {
  for (const char* text : kTricky) EXPECT_EQ(a.encode(text, true), b.encode(text, true)) << text;
}

}  // namespace

TEST(CtModel, GgufCompressCarriesItsVocabularyAndInspectShowsTheModel) {
  CTSCOPE_REQUIRE_MODEL(kGguf);
  const TempDir tmp("ctmodel");
  const auto gguf = (kModels / kGguf).string();
  const auto ctf = (tmp / "m.ct.safetensors").string();
  auto r = run_cli("compress " + gguf + " --K 8 -o " + ctf);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("vocabulary carried: 512 tokens"), std::string::npos) << r.out;

  // Inspect: the source model, not the amplitude tensors' shapes.
  r = run_cli("inspect " + ctf);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("CT-compressed model (ctscope-ct v1), gaussian basis, K 8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("source: gguf " + fs::absolute(gguf).lexically_normal().string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("config: dim 64  hidden 172  layers 5  heads 8  kv_heads 4  vocab 512"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("vocabulary: 512 tokens (llama), carried in the file"), std::string::npos) << r.out;

  const ctfile::CtReader c(Checkpoint::open(ctf));
  size_t fitted = 0, dense = 0;
  for (const auto& e : c.entries())
    if (e.alias_of.empty()) ++(e.fitted ? fitted : dense);
  EXPECT_EQ(fitted, 36u);  // every matrix: 5 layers x 7, and the embedding
  EXPECT_EQ(dense, 11u);   // the norms
  EXPECT_NE(r.out.find("36 fitted (each row as 8 amplitudes), 11 stored dense, 1 alias"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("output.weight"), std::string::npos);
  EXPECT_NE(r.out.find("alias (= token_embd.weight)"), std::string::npos) << r.out;

  r = run_cli("inspect " + ctf + " --json -");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["config"]["dim"], 64);
  EXPECT_EQ(j["config"]["n_layers"], 5);
  EXPECT_EQ(j["config"]["vocab_size"], 512);
  EXPECT_EQ(j["vocab_tokens"], 512);
  EXPECT_EQ(j["ct"]["basis"], "gaussian");
  EXPECT_EQ(j["ct"]["K"], 8);
  EXPECT_EQ(j["ct"]["source_format"], "gguf");
  EXPECT_EQ(j["ct"]["source_path"], fs::absolute(gguf).lexically_normal().string());
  EXPECT_EQ(j["ct"]["fitted"], fitted);
  EXPECT_EQ(j["ct"]["vocabulary"]["model"], "llama");
  EXPECT_EQ(j["ct"]["vocabulary"]["tokens"], 512);
  ASSERT_EQ(j["ct"]["source_tensors"].size(), c.entries().size());
  for (size_t i = 0; i < c.entries().size(); ++i) {
    const auto& jt = j["ct"]["source_tensors"][i];
    const auto& e = c.entries()[i];
    EXPECT_EQ(jt["name"], e.name);
    EXPECT_EQ(jt["stored"], !e.alias_of.empty() ? "alias" : e.fitted ? "fitted" : "dense") << e.name;
    if (e.role == Role::QProj && e.layer == 0) {
      EXPECT_EQ(jt["shape"], (std::vector<int64_t>{64, 64}));  // the source's shape, not [64, 8]
      EXPECT_EQ(jt["stored"], "fitted");
    }
  }
  // An ordinary checkpoint keeps inspect's key layout, without "ct".
  r = run_cli("inspect " + gguf + " --json -");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto g = nlohmann::json::parse(r.out);
  EXPECT_FALSE(g.contains("ct"));
  for (const char* key : {"path", "format", "tensors", "total_params", "total_bytes", "config", "vocab_tokens",
                          "tensor_list"})
    EXPECT_TRUE(g.contains(key)) << key;
  EXPECT_EQ(g["config"], j["config"]);
}

TEST(CtModel, GenerateOnTheFileAndOnItsReconstructionNeedsNoTokenizerAndAgrees) {
  CTSCOPE_REQUIRE_MODEL(kGguf);
  const TempDir tmp("ctmodel");
  const auto ctf = (tmp / "m.ct.safetensors").string(), dense = (tmp / "dense").string();
  ASSERT_EQ(run_cli("compress " + (kModels / kGguf).string() + " --K 8 --basis svd -q -o " + ctf).code, 0);
  auto r = run_cli("reconstruct " + ctf + " -o " + dense);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("tokenizer.model: 512 tokens (llama)"), std::string::npos) << r.out;
  ASSERT_TRUE(fs::is_regular_file(fs::path(dense) / "tokenizer.model"));
  // Greedy decoding: the prompt's tokens and every generated token agree.
  const std::string from_file = generate_ids(ctf), from_dense = generate_ids(dense);
  EXPECT_EQ(from_file, from_dense);
  EXPECT_EQ(from_file.rfind("1 403 407 261 378 ", 0), 0u) << from_file;  // BOS "Once upon a time"
  // Text out as well, without --tokenizer.
  r = run_cli("generate " + dense + " --prompt \"Once upon a time\" -n 20");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Once upon a time", 0), 0u) << r.out;
}

TEST(CtModel, TokenizerModelEncodesLikeTheCarriedVocabulary) {
  CTSCOPE_REQUIRE_MODEL(kGguf);
  CTSCOPE_REQUIRE_MODEL("tok512.bin");
  const TempDir tmp("ctmodel");
  const Checkpoint ck = Checkpoint::open(kModels / kGguf);
  ASSERT_TRUE(ck.vocab.has_value());
  const auto bpe = bpe_from_vocabulary(*ck.vocab, "gguf", 1, 2);
  test_support::write_bytes(tmp / "gguf.model", ctfile::sentencepiece_model_bytes(*ck.vocab, 1, 2, "gguf"));
  const auto sp = load_sentencepiece_tokenizer(tmp / "gguf.model");
  EXPECT_EQ(sp->vocab_size(), 512);
  EXPECT_EQ(sp->bos_id(), 1);
  EXPECT_EQ(sp->eos_id(), 2);
  expect_same_encoding(*bpe, *sp);
  // Llama 2's own 32000-token vocabulary (digits split, byte fallback, many merges).
  if (fs::exists(kModels / "llama-2-tiny-random.gguf")) {
    const Checkpoint big = Checkpoint::open(kModels / "llama-2-tiny-random.gguf");
    ASSERT_TRUE(big.vocab.has_value());
    test_support::write_bytes(tmp / "llama2.model", ctfile::sentencepiece_model_bytes(*big.vocab, 1, 2, "llama2"));
    const auto sp2 = load_sentencepiece_tokenizer(tmp / "llama2.model");
    EXPECT_EQ(sp2->vocab_size(), 32000);
    expect_same_encoding(*bpe_from_vocabulary(*big.vocab, "llama2", 1, 2), *sp2);
    // Llama 2's ids: "Hello" 15043, " world" 3186, ",", then " " and one token per digit.
    EXPECT_EQ(sp2->encode("Hello world, 123", true),
              (std::vector<int32_t>{1, 15043, 3186, 29892, 29871, 29896, 29906, 29941}));
  }
  // A llama2.c tokenizer.bin (spaces spelled " ", no token types) as well.
  const Vocabulary tok512 = read_llama2c_tokenizer(kModels / "tok512.bin", 512);
  test_support::write_bytes(tmp / "tok512.model", ctfile::sentencepiece_model_bytes(tok512, 1, 2, "tok512"));
  const auto sp512 = load_sentencepiece_tokenizer(tmp / "tok512.model");
  EXPECT_EQ(sp512->bos_id(), 1);
  expect_same_encoding(*load_llama2c_tokenizer(kModels / "tok512.bin", 512), *sp512);
  // A carried llama2.c vocabulary is a tokenizer by itself.
  expect_same_encoding(*load_llama2c_tokenizer(kModels / "tok512.bin", 512),
                       *bpe_from_vocabulary(tok512, "tok512", 1, 2));

  // What SentencePiece could not load is refused here, with the reason.
  Vocabulary bad = tok512;
  bad.tokens[5] = bad.tokens[6];
  EXPECT_THROW(ctfile::sentencepiece_model_bytes(bad, 1, 2, "x"), Error);
  bad = tok512;
  bad.model = "gpt2";
  EXPECT_THROW(ctfile::sentencepiece_model_bytes(bad, 1, 2, "x"), Error);
}

TEST(CtModel, Llama2cTokenizerGivenToCompressIsCarried) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  CTSCOPE_REQUIRE_MODEL("tok512.bin");
  const TempDir tmp("ctmodel");
  const auto bin = (kModels / "stories260K.bin").string(), tok = (kModels / "tok512.bin").string();
  const auto ctf = (tmp / "m.ct.safetensors").string(), bare = (tmp / "bare.ct.safetensors").string();
  ASSERT_EQ(run_cli("compress " + bin + " --tokenizer " + tok + " --K 8 -q -o " + ctf).code, 0);
  auto r = run_cli("inspect " + ctf + " --json -");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ct"]["vocabulary"]["model"], "llama2.c");
  EXPECT_EQ(j["ct"]["vocabulary"]["tokens"], 512);
  EXPECT_EQ(j["ct"]["vocabulary"]["source"], fs::absolute(tok).lexically_normal().string());
  // The carried tokenizer is the given one, byte for byte.
  const ctfile::CtReader c(Checkpoint::open(ctf));
  ASSERT_TRUE(c.vocabulary().has_value());
  const Vocabulary given = read_llama2c_tokenizer(tok, 512);
  EXPECT_EQ(c.vocabulary()->tokens, given.tokens);
  EXPECT_EQ(c.vocabulary()->scores, given.scores);
  // Same tokens (and text) with and without --tokenizer, and from the reconstruction.
  const std::string carried = generate_ids(ctf);
  EXPECT_EQ(carried, generate_ids(ctf, "--tokenizer " + tok));
  ASSERT_EQ(run_cli("reconstruct " + ctf + " -o " + (tmp / "dense").string()).code, 0);
  EXPECT_EQ(carried, generate_ids((tmp / "dense").string()));
  // No --tokenizer for a llama2.c source: nothing carried, and generate asks for one.
  r = run_cli("compress " + bin + " --K 8 -o " + bare);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("no vocabulary carried"), std::string::npos) << r.out;
  r = run_cli("generate " + bare + " --prompt hi -n 5");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--tokenizer"), std::string::npos) << r.err;
  r = run_cli("reconstruct " + bare + " -o " + (tmp / "bare").string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(tmp.path / "bare" / "tokenizer.model"));
  // A SentencePiece or tokenizer.json file is not what compress carries.
  r = run_cli("compress " + bin + " --tokenizer " + (tmp / "tokenizer.model").string() + " --K 8 -o " +
              (tmp / "x.ct.safetensors").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_FALSE(fs::exists(tmp.path / "x.ct.safetensors"));
}

TEST(CtModel, CommandsThatMeasureDenseWeightsRefuseACtFileInOneLine) {
  CTSCOPE_REQUIRE_MODEL(kGguf);
  const TempDir tmp("ctmodel");
  const auto ctf = (tmp / "m.ct.safetensors").string();
  ASSERT_EQ(run_cli("compress " + (kModels / kGguf).string() + " --K 8 -q -o " + ctf).code, 0);
  test_support::write_bytes(tmp / "t.txt", std::string("Once upon a time there was a girl.\n"));
  struct Case {
    std::string args, says;
  };
  for (const Case& c : {Case{"analyze " + ctf, "ctscope reconstruct " + ctf + " -o DIR"},
                        Case{"eval-compression " + ctf + " --text " + (tmp / "t.txt").string(), "ctscope eval " + ctf},
                        Case{"compress " + ctf + " --K 4 -o " + (tmp / "again.ct.safetensors").string(),
                             "compress the source model"}}) {
    const auto r = run_cli(c.args);
    EXPECT_EQ(r.code, 2) << c.args;
    EXPECT_EQ(test_support::count_lines(r.err), 1) << r.err;
    EXPECT_EQ(r.err.rfind("ctscope: error: " + ctf + ": a CT-compressed file (gaussian basis, K=8, source " +
                              fs::absolute(kModels / kGguf).lexically_normal().string() + ")",
                          0),
              0u)
        << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  EXPECT_FALSE(fs::exists(tmp.path / "again.ct.safetensors"));
}

TEST(CtModel, MalformedCarriedVocabularyIsAnError) {
  CTSCOPE_REQUIRE_MODEL(kGguf);
  const TempDir tmp("ctmodel");
  const auto good = tmp / "m.ct.safetensors";
  ctfile::CompressSettings s;
  s.K = 8;
  ctfile::compress_checkpoint(Checkpoint::open(kModels / kGguf), s, good);
  const Checkpoint ck = Checkpoint::open(good);
  // Rewrite the file with one change to its vocabulary tensors (or metadata).
  auto rewrite = [&](const std::string& name, auto change_lengths, bool drop_model_key) {
    std::vector<SafetensorsEntry> entries;
    for (const auto& t : ck.tensors) entries.push_back({t.name, t.dtype, t.shape});
    auto meta = ck.metadata;
    if (drop_model_key) meta.erase(ctfile::kVocabModelKey);
    const auto p = tmp / name;
    SafetensorsWriter w(p, entries, meta);
    for (const auto& t : ck.tensors) {
      const auto b = ck.bytes(t);
      std::vector<uint8_t> bytes(reinterpret_cast<const uint8_t*>(b.data()),
                                 reinterpret_cast<const uint8_t*>(b.data()) + b.size());
      if (t.name == ctfile::kVocabLengths) change_lengths(reinterpret_cast<int32_t*>(bytes.data()));
      w.write(t.name, bytes.data(), bytes.size());
    }
    w.commit();
    return p;
  };
  const auto unchanged = rewrite("same.ct.safetensors", [](int32_t*) {}, false);
  EXPECT_EQ(ctfile::CtReader(Checkpoint::open(unchanged)).vocabulary()->tokens.size(), 512u);
  for (const auto& p : {rewrite("long.ct.safetensors", [](int32_t* l) { l[511] += 1; }, false),
                        rewrite("short.ct.safetensors", [](int32_t* l) { l[0] -= 1; }, false),
                        rewrite("negative.ct.safetensors", [](int32_t* l) { l[3] = -2; }, false),
                        rewrite("orphan.ct.safetensors", [](int32_t*) {}, true)}) {
    EXPECT_THROW(ctfile::CtReader(Checkpoint::open(p)), Error) << p;
    const auto r = run_cli("inspect " + p.string());
    EXPECT_EQ(r.code, 2) << p;
  }
}
