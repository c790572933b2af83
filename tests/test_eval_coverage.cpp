// What eval, eval-compression, compress and generate say at the edges, on the
// real models: matrices shorter than K (llama-2-tiny-random, d = 8 and 32), the
// perplexity floors, llama.cpp's -n and context rules, and counts in words.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/checkpoint.hpp"
#include "runtime/generate.hpp"
#include "util/error.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using ctscope::test_support::kModels;
using ctscope::test_support::run_cli;
using ctscope::test_support::slurp;
using Run = ctscope::test_support::CliRun;

namespace {

fs::path tmp(const std::string& name) { return ctscope::test_support::process_tmp().path / name; }

std::string q(const fs::path& p) { return std::string("'") + p.string() + "'"; }

void expect_one_line_error(const Run& r, const std::string& needle) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

// n token ids in [2, 500): a text any of the shared models can score.
fs::path ids_file(const std::string& name, int n) {
  const fs::path p = tmp(name);
  std::ofstream out(p);
  out << "1";
  for (int i = 1; i < n; ++i) out << ' ' << 2 + (i * 37 + i * i) % 498;
  return p;
}

const fs::path kTiny = kModels / "llama-2-tiny-random.gguf";

}  // namespace

TEST(Generate, NCountsNewTokensAndMustFitTheContext) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  const ctscope::ModelConfig c = ctscope::Checkpoint::open(kModels / "stories260K.bin").config;  // context 512
  EXPECT_EQ(ctscope::generation_length(c, 5, 60, "m"), 65u);  // llama.cpp: -n 60 makes 60 new tokens
  EXPECT_EQ(ctscope::generation_length(c, 1, 512, "m"), 513u);  // the last token is never fed: 512 positions
  EXPECT_THROW(ctscope::generation_length(c, 1, 513, "m"), ctscope::Error);
  EXPECT_THROW(ctscope::generation_length(c, 5, 100000, "m"), ctscope::Error);
  EXPECT_THROW(ctscope::generation_length(c, 5, INT64_MAX, "m"), ctscope::Error);  // no overflow
  EXPECT_THROW(ctscope::generation_length(c, 5, 0, "m"), ctscope::Error);
  try {
    ctscope::generation_length(c, 5, 100000, "m");
  } catch (const ctscope::Error& e) {
    EXPECT_NE(std::string(e.what()).find("the prompt (5 tokens) and 100000 new tokens do not fit the model's context "
                                         "of 512 (at most -n 508)"),
              std::string::npos)
        << e.what();
  }
}

TEST(Generate, CliMakesNNewTokensOrSaysWhyNot) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  const std::string model = q(kModels / "stories260K.bin") + " --tokenizer " + q(kModels / "tok512.bin");
  // 'Once upon a time' is BOS + 4 tokens; greedy text of this model does not stop within 60.
  auto r = run_cli("generate " + model + " --prompt 'Once upon a time' -n 60 --ids");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), ' ') + 1, 5 + 60) << r.out;
  EXPECT_NE(r.err.find("generated 60 tokens"), std::string::npos) << r.err;
  r = run_cli("generate " + model + " --prompt 'Once upon a time' -n 1 --ids");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("generated 1 token,"), std::string::npos) << r.err;
  expect_one_line_error(run_cli("generate " + model + " --prompt 'Once upon a time' -n 100000"),
                        "do not fit the model's context of 512 (at most -n 508)");
}

TEST(EvalCli, ContextBeyondTheModelIsSaidAndOneChunkIsSingular) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  const fs::path ids = ids_file("ids_1100.txt", 1100), out = tmp("ctx1024.json");
  auto r = run_cli("eval " + q(kModels / "stories260K.bin") + " --text-ids " + q(ids) + " --ctx 1024 --json " + q(out));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("warning: the model was trained on only 512 context tokens (--ctx 1024 specified)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("llama-perplexity would refuse"), std::string::npos) << r.out;  // 1100 < 2 x 1024
  EXPECT_NE(r.out.find("(511 scored tokens, 1 chunk of 1024)"), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(slurp(out));
  EXPECT_EQ(j["model_context"], 512);
  EXPECT_EQ(j["text_tokens"], 1100);
  EXPECT_EQ(j["notes"].size(), 2u);
  EXPECT_EQ(j["floors"]["uniform_ppl"].get<double>(), 512.0);
  EXPECT_GT(j["floors"]["unigram_ppl"].get<double>(), 1.0);
  EXPECT_LE(j["floors"]["unigram_ppl"].get<double>(), 512.0);
  EXPECT_NE(r.out.find("floors: uniform guess 512"), std::string::npos) << r.out;
}

TEST(EvalCompressionCli, TinyModelFitsEachMatrixAtTheKItAllows) {
  CTSCOPE_REQUIRE_MODEL("llama-2-tiny-random.gguf");
  const fs::path ids = ids_file("tiny_ids.txt", 40), out = tmp("tiny_ec.json");
  const std::string common = "eval-compression " + q(kTiny) + " --text-ids " + q(ids) + " --ctx 16 --seed 3";
  // d = 8 everywhere but ffn_down (d = 32): K = 16 fits ffn_down only, K = 64 fits nothing.
  auto r = run_cli(common + " --K 8,16,64 --basis dct,svd --json " + q(out));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("K=64: no selected matrix has rows of d >= 64 (the longest have d = 32)"), std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("K=16: fits 1 of 9 selected matrices (8 rows, 256 parameters); left dense:"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("(row length d=8 < K=16)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("K=64: fits no selected matrix"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("uniform guess"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("(9 matrices); 40 tokens in 2 chunks of 16"), std::string::npos) << r.err;
  const auto j = nlohmann::json::parse(slurp(out));
  ASSERT_EQ(j["variants"].size(), 6u);  // original, int8, dct/svd at K = 8 and 16; none at 64
  EXPECT_EQ(j["unrun_K"], nlohmann::json::array({64}));
  ASSERT_EQ(j["coverage"].size(), 2u);
  EXPECT_EQ(j["coverage"][0]["K"], 8);
  EXPECT_EQ(j["coverage"][0]["matrices"], 9);
  EXPECT_EQ(j["coverage"][0]["skipped"].size(), 0u);
  EXPECT_EQ(j["coverage"][1]["K"], 16);
  EXPECT_EQ(j["coverage"][1]["matrices"], 1);
  EXPECT_EQ(j["coverage"][1]["rows"], 8);
  EXPECT_EQ(j["coverage"][1]["skipped"].size(), 8u);
  EXPECT_EQ(j["coverage"][1]["skipped"][0]["K"], 16);
  for (const auto& v : j["variants"]) {
    if (v["kind"] != "ct") continue;
    EXPECT_EQ(v["matrices"], v["K"] == 8 ? 9 : 1) << v.dump();
    EXPECT_LT(v["pooled_r2"].get<double>(), 1.0 + 1e-9);
    // svd at K = 8 is exact (every matrix has d = 8 or 8 rows); dct K = 8 is not (ffn_down, d = 32).
    if (v["K"] == 8 && v["basis"] == "svd") {
      EXPECT_NEAR(v["pooled_r2"].get<double>(), 1.0, 1e-6);
    }
    if (v["K"] == 8 && v["basis"] == "dct") {
      EXPECT_LT(v["pooled_r2"].get<double>(), 0.9999);
    }
  }
  EXPECT_EQ(j["floors"]["uniform_ppl"].get<double>(), 32000.0);
  // Nothing fits at any K: one line, exit 2.
  expect_one_line_error(run_cli(common + " --K 64,128"), "nothing to fit");
  fs::remove(out);
}

TEST(CompressCli, TinyModelStoresShortMatricesDenseAndSaysSo) {
  CTSCOPE_REQUIRE_MODEL("llama-2-tiny-random.gguf");
  const fs::path out = tmp("tiny16.ct.safetensors");
  auto r = run_cli("compress " + q(kTiny) + " -o " + q(out) + " --K 16 --basis dct");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("K=16): 1 matrix fitted (8 rows, 256 parameters)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not fitted, stored as in the source: 8 tensors (row length d=8 < K=16)"), std::string::npos)
      << r.out;
  EXPECT_TRUE(fs::exists(out));
  fs::remove(out);
  expect_one_line_error(run_cli("compress " + q(kTiny) + " -o " + q(out) + " --K 64"), "nothing to fit");
  EXPECT_FALSE(fs::exists(out));
}
