// `ctscope generate` and `ctscope eval` end to end: outputs on stories260K against
// the reference ids, and input errors as exit code 2 with one line on stderr.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <sentencepiece_trainer.h>

#include "test_support.hpp"

namespace fs = std::filesystem;

namespace {

using ctscope::test_support::kModels;

#define REQUIRE_MODELS() CTSCOPE_REQUIRE_MODEL("stories260K.bin")

using Run = ctscope::test_support::CliRun;

using ctscope::test_support::slurp;

fs::path tmp(const std::string& name) { return ctscope::test_support::process_tmp() / name; }

using ctscope::test_support::run_cli;

std::string q(const fs::path& p) {
  std::string s = "'";
  s += p.string();
  s += '\'';
  return s;
}

void expect_one_line_error(const Run& r, const std::string& needle) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

nlohmann::json cases() {
  std::ifstream in(kModels / "stories260K.greedy.json");
  return nlohmann::json::parse(in)["cases"];
}

std::string join_ids(const std::vector<int>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ' ';
    s += std::to_string(ids[i]);
  }
  return s;
}

}  // namespace

TEST(ForwardCli, GenerateGreedyMatchesReference) {
  REQUIRE_MODELS();
  const auto c = cases();
  // From BOS, ids only (no tokenizer needed).
  const fs::path ids = tmp("bos.txt");
  std::ofstream(ids) << "1\n";
  auto r = run_cli("generate " + q(kModels / "stories260K.bin") + " --prompt-ids " + q(ids) + " -n 79 --ids");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, join_ids(c[0]["ids"].get<std::vector<int>>()) + "\n");
  // Text, with the llama2.c tokenizer.
  r = run_cli("generate " + q(kModels / "stories260K.bin") + " --tokenizer " + q(kModels / "tok512.bin") +
              " --prompt '' -n 79");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, c[0]["text"].get<std::string>() + "\n");
  // GGUF with its own vocabulary, a text prompt: BOS + 4 prompt tokens, -n 59 new ones (llama.cpp's -n).
  r = run_cli("generate " + q(kModels / "tinyllamas-stories-260k-f32.gguf") + " --prompt 'Once upon a time' -n 59 --ids");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, join_ids(c[1]["ids"].get<std::vector<int>>()) + "\n");
  fs::remove(ids);
}

TEST(ForwardCli, GenerateErrorsAreOneLine) {
  REQUIRE_MODELS();
  // stories260K.bin alone (the shared folder has tok512.bin beside it, which is found).
  const ctscope::test_support::TempDir lone("lone_model");
  fs::create_symlink(kModels / "stories260K.bin", lone / "stories260K.bin");
  expect_one_line_error(run_cli("generate " + q(lone / "stories260K.bin") + " --prompt hi"), "--tokenizer");
  expect_one_line_error(run_cli("generate " + q(kModels / "llama-2-tiny-random.gguf") + " --tokenizer " +
                                q(kModels / "tok512.bin") + " --prompt hi"),
                        "512");
  const fs::path bad = tmp("bad_ids.txt");
  std::ofstream(bad) << "1\n9999\n";
  expect_one_line_error(run_cli("generate " + q(kModels / "stories260K.bin") + " --prompt-ids " + q(bad) + " --ids"),
                        "9999");
  fs::remove(bad);
  expect_one_line_error(run_cli("generate /nonexistent/model.bin --prompt hi"), "/nonexistent/model.bin");
}

TEST(PerplexityCli, EvalWritesJsonAndComparesWithReference) {
  REQUIRE_MODELS();
  const auto c = cases();
  const fs::path ids = tmp("text_ids.json"), out = tmp("eval.json");
  std::ofstream(ids) << c[0]["ids"].dump();  // 80 tokens
  auto r = run_cli("eval " + q(kModels / "stories260K.bin") + " --text-ids " + q(ids) + " --ctx 32 --ref " +
                   q(kModels / "tinyllamas-stories-260k-f32.gguf") + " --json " + q(out));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("[2/2] ppl "), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("ppl = "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(30 scored tokens, 2 chunks of 32)"), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(slurp(out));
  EXPECT_EQ(j["chunks"], 2);
  EXPECT_EQ(j["ctx"], 32);
  EXPECT_EQ(j["scored_tokens"], 30);
  EXPECT_GE(j["ppl"].get<double>(), 1.0);
  EXPECT_LT(j["ppl"].get<double>(), 2.0);  // its own greedy text
  EXPECT_GT(j["ppl_stderr"].get<double>(), 0.0);
  EXPECT_NEAR(j["kl_mean"].get<double>(), 0.0, 1e-9);  // the same weights in another format
  EXPECT_NEAR(j["kl_p99"].get<double>(), 0.0, 1e-9);
  EXPECT_EQ(j["top1_agreement"].get<double>(), 1.0);
  fs::remove(ids);
  fs::remove(out);
}

TEST(PerplexityCli, EvalErrorsAreOneLineWithoutOutput) {
  REQUIRE_MODELS();
  const fs::path text = tmp("short.txt"), out = tmp("never.json");
  std::ofstream(text) << "Once upon a time";
  const std::string model = q(kModels / "stories260K.bin") + " --tokenizer " + q(kModels / "tok512.bin");
  expect_one_line_error(run_cli("eval " + model + " --text " + q(text) + " --json " + q(out)), "fewer than one context");
  EXPECT_FALSE(fs::exists(out));
  expect_one_line_error(run_cli("eval " + model + " --text " + q(text) + " --ctx 4 --json /nonexistent/dir/x.json"),
                        "/nonexistent/dir/x.json");
  expect_one_line_error(run_cli("eval " + model + " --text " + q(text) + " --ctx 4 --ref " +
                                q(kModels / "llama-2-tiny-random.gguf")),
                        "vocabulary");
  const ctscope::test_support::TempDir lone("lone_model");  // no tokenizer beside the model
  fs::create_symlink(kModels / "stories260K.bin", lone / "stories260K.bin");
  expect_one_line_error(run_cli("eval " + q(lone / "stories260K.bin") + " --text " + q(text)), "--tokenizer");
  expect_one_line_error(run_cli("eval " + model), "--text");
  expect_one_line_error(run_cli("eval " + model + " --text " + q(text) + " --ctx 3 --json " + q(out)), "--ctx: 3 is out of range (4..");
  expect_one_line_error(run_cli("eval-compression " + model + " --text " + q(text) + " --ctx 2"), "--ctx: 2 is out of range (4..");
  EXPECT_FALSE(fs::exists(out));
  fs::remove(text);
}

TEST(ForwardCli, HuggingFaceDirectoryTokenizerAndConfigErrors) {
  const fs::path dir = tmp("hf_tiny");
  fs::remove_all(dir);
  auto r = run_cli("synth " + q(dir) + " --preset tiny");
  ASSERT_EQ(r.code, 0) << r.err;
  const fs::path ids = tmp("hf_ids.txt");
  std::ofstream(ids) << "1 5 7\n";
  // BF16 safetensors run end to end; 3 prompt ids + 10 new ones unless it stops early.
  r = run_cli("generate " + q(dir) + " --prompt-ids " + q(ids) + " -n 10 --ids");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("1 5 7", 0), 0u) << r.out;
  // Text needs a tokenizer: none in the directory yet.
  expect_one_line_error(run_cli("generate " + q(dir) + " --prompt hi"), "--tokenizer");
  // tokenizer.model in the directory is found (and its vocabulary checked: 300 != 256).
  std::string corpus;
  for (int i = 0; i < 100; ++i) corpus += "the cat sat on the mat " + std::to_string(i) + "\n";
  std::ofstream(tmp("corpus.txt")) << corpus;
  const auto st = sentencepiece::SentencePieceTrainer::Train(
      "--input=" + tmp("corpus.txt").string() + " --model_prefix=" + (dir / "tokenizer").string() +
      " --vocab_size=300 --model_type=bpe --byte_fallback=true --minloglevel=2");
  ASSERT_TRUE(st.ok()) << st.ToString();
  expect_one_line_error(run_cli("generate " + q(dir) + " --prompt hi"), "tokenizer.model");
  // Unknown architecture and a missing config key.
  auto cfg = nlohmann::json::parse(slurp(dir / "config.json"));
  auto bad = cfg;
  bad["model_type"] = "gpt2";
  std::ofstream(dir / "config.json") << bad.dump();
  expect_one_line_error(run_cli("generate " + q(dir) + " --prompt-ids " + q(ids) + " --ids"), "gpt2");
  bad = cfg;
  bad.erase("hidden_size");
  std::ofstream(dir / "config.json") << bad.dump();
  expect_one_line_error(run_cli("eval " + q(dir) + " --text-ids " + q(ids) + " --ctx 4"), "hidden_size");
  fs::remove_all(dir);
  fs::remove(ids);
  fs::remove(tmp("corpus.txt"));
}
#include "test_support.hpp"
