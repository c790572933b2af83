// compress -> reconstruct: exact at full rank, W_hat of the analysis at K=8, a
// reconstructed Hugging Face directory that runs like the original, and
// malformed .ct.safetensors files.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "ctfile/ct_reader.hpp"
#include "ctfile/ct_weights.hpp"
#include "ctfile/ct_writer.hpp"
#include "ctfile/reconstruct.hpp"
#include "ct/model_analysis.hpp"
#include "io/checkpoint.hpp"
#include "io/safetensors_writer.hpp"
#include "util/error.hpp"
#include "test_support.hpp"

using namespace ctscope;
namespace fs = std::filesystem;

namespace {

using test_support::kModels;

// Runs ctscope; returns stdout and sets *code.
std::string run(const std::string& args, int* code) {
  auto r = test_support::run_cli(args);
  *code = r.code;
  return r.out;
}

using TempDir = test_support::TempDir;

double sq_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return s;
}

}  // namespace

TEST(Compress, FullRankRoundTripIsExactAndRunsLikeTheOriginal) {
  const auto bin = kModels / "stories260K.bin";
  if (!fs::exists(bin)) GTEST_SKIP() << "../shared/models not found: real-model test skipped";
  TempDir tmp;
  const Checkpoint src = Checkpoint::open(bin);
  // K = 64 = d for every matrix except down_proj (d = 172), which stays verbatim.
  ctfile::CompressSettings s;
  s.K = 64;
  s.selection.exclude = "feed_forward\\.w2";
  const auto ctf = tmp.path / "m.ct.safetensors";
  auto sum = ctfile::compress_checkpoint(src, s, ctf);
  EXPECT_EQ(sum.fitted_matrices, 31u);
  EXPECT_NEAR(sum.pooled_r2(), 1.0, 1e-6);
  const ctfile::CtReader c(Checkpoint::open(ctf));
  for (const auto& e : c.entries()) {
    if (!e.alias_of.empty()) continue;
    auto orig = src.read_f32(*src.find(e.name));
    auto back = c.tensor_f32(e);
    ASSERT_EQ(orig.size(), back.size()) << e.name;
    double ss = 0;
    for (float x : orig) ss += double(x) * x;
    EXPECT_LE(sq_diff(orig, back), 1e-10 * ss + 1e-30) << e.name;
  }
  // Dense HF directory: HF names, q/k permuted to the half-split layout.
  ctfile::reconstruct_checkpoint(c, tmp.path / "hf", false);
  const Checkpoint hf = Checkpoint::open(tmp.path / "hf");
  EXPECT_EQ(hf.format, Format::Safetensors);
  EXPECT_NE(hf.find("model.layers.0.self_attn.q_proj.weight"), nullptr);
  EXPECT_TRUE(hf.config.tie_embeddings);
  EXPECT_EQ(hf.config.rope, RopeLayout::HalfSplit);
  EXPECT_THROW(ctfile::reconstruct_checkpoint(c, tmp.path / "hf", false), Error);  // exists, no --force

  // Greedy decoding from the reconstructed directory and from the .ct file itself
  // gives the reference tokens of the original model.
  auto ref = nlohmann::json::parse(std::ifstream(kModels / "stories260K.greedy.json"));
  const auto ids = ref["cases"][0]["ids"].get<std::vector<int>>();
  std::string want;
  for (int id : ids) want += std::to_string(id) + "\n";
  for (const auto& model : {(tmp.path / "hf").string(), ctf.string()}) {
    int code = 0;
    auto out = run("generate " + model + " --tokenizer " + (kModels / "tok512.bin").string() + " -n 79 --ids", &code);
    EXPECT_EQ(code, 0) << model;
    std::string got;
    for (char ch : out) got += ch == ' ' ? '\n' : ch;
    if (!got.empty() && got.back() != '\n') got += '\n';
    EXPECT_EQ(got, want) << model;
  }
}

TEST(Compress, K8ReconstructionMatchesTheAnalysisSse) {
  const auto gguf = kModels / "tinyllamas-stories-260k-f32.gguf";
  if (!fs::exists(gguf)) GTEST_SKIP() << "../shared/models not found: real-model test skipped";
  TempDir tmp;
  const Checkpoint src = Checkpoint::open(gguf);
  for (auto basis : {ct::BasisKind::Gaussian, ct::BasisKind::Dct, ct::BasisKind::Svd, ct::BasisKind::Universal}) {
    ctfile::CompressSettings s;
    s.K = 8;
    s.basis = basis;
    const auto ctf = tmp.path / "k8.ct.safetensors";
    ctfile::compress_checkpoint(src, s, ctf);
    ct::AnalysisSettings as;
    as.Ks = {8};
    as.bases = {basis};
    const auto a = ct::analyze_model(src, as);
    const ctfile::CtReader c(Checkpoint::open(ctf));
    ASSERT_EQ(a.matrices.size(), 36u);
    for (const auto& m : a.matrices) {
      const auto* e = c.find(m.layer, m.role);
      ASSERT_NE(e, nullptr) << m.name;
      ASSERT_TRUE(e->fitted) << m.name;
      const double sse = sq_diff(src.read_f32(*src.find(m.name)), c.tensor_f32(*e));
      EXPECT_NEAR(sse, m.result.fits[0].sse, 1e-4 * m.result.sst) << ct::basis_name(basis) << " " << m.name;
    }
  }
}

TEST(Compress, InconsistentMetadataIsAnError) {
  TempDir tmp;
  auto write = [&](const std::string& name, std::map<std::string, std::string> meta,
                   std::vector<SafetensorsEntry> entries) {
    const auto p = tmp.path / name;
    SafetensorsWriter w(p, entries, meta);
    for (const auto& e : entries) {
      uint64_t n = 1;
      for (auto d : e.shape) n *= static_cast<uint64_t>(d);
      std::vector<float> z(n, 0.5f);
      w.write(e.name, z.data(), z.size() * 4);
    }
    w.commit();
    return p;
  };
  const std::string cfg =
      R"({"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2,"vocab_size":4})";
  std::map<std::string, std::string> meta = {{"format", "ctscope-ct"}, {"format_version", "1"}, {"basis", "gaussian"},
                                             {"K", "4"}, {"seed", "1"}, {"source_format", "safetensors"},
                                             {"config", cfg}};
  // Amplitudes of the wrong shape for the recorded tensor.
  meta["tensors"] = R"([{"name":"lm_head.weight","dtype":"F32","shape":[4,8],"fitted":true}])";
  auto bad_shape = write("a.ct.safetensors", meta, {{"lm_head.weight.ct_amplitudes", DType::F32, {4, 3}}});
  // Missing amplitudes altogether.
  auto missing = write("b.ct.safetensors", meta, {{"other", DType::F32, {2}}});
  // K not a number.
  meta["K"] = "four";
  auto bad_k = write("c.ct.safetensors", meta, {{"lm_head.weight.ct_amplitudes", DType::F32, {4, 4}}});
  meta["K"] = "4";
  meta["tensors"] = "[not json";
  auto bad_json = write("d.ct.safetensors", meta, {{"lm_head.weight.ct_amplitudes", DType::F32, {4, 4}}});
  for (const auto& p : {bad_shape, missing, bad_k, bad_json}) {
    EXPECT_THROW(ctfile::CtReader(Checkpoint::open(p)), Error) << p;
    int code = 0;
    run("reconstruct " + p.string() + " -o " + (tmp.path / "out").string(), &code);
    EXPECT_EQ(code, 2) << p;
    EXPECT_FALSE(fs::exists(tmp.path / "out"));
  }
}

TEST(Compress, EvalCompressionTableAgreesWithEvalAndIsOrdered) {
  const auto bin = kModels / "stories260K.bin";
  if (!fs::exists(bin)) GTEST_SKIP() << "../shared/models not found: real-model test skipped";
  TempDir tmp;
  const std::string text = std::string(CTSCOPE_SOURCE_DIR) + "/tests/data/story.txt";
  const std::string common = " --tokenizer " + (kModels / "tok512.bin").string() + " --text " + text + " --ctx 128";
  int code = 0;
  run("eval-compression " + bin.string() + common + " --K 8,64 --basis gaussian,svd --json " +
          (tmp.path / "ec.json").string(), &code);
  ASSERT_EQ(code, 0);
  run("eval " + bin.string() + common + " --json " + (tmp.path / "e.json").string(), &code);
  ASSERT_EQ(code, 0);
  auto ec = nlohmann::json::parse(std::ifstream(tmp.path / "ec.json"));
  auto e = nlohmann::json::parse(std::ifstream(tmp.path / "e.json"));
  auto rows = ec["variants"];
  ASSERT_EQ(rows.size(), 6u);  // original, int8, gaussian K=8, svd K=8, gaussian K=64, svd K=64
  EXPECT_EQ(rows[0]["variant"], "original");
  EXPECT_NEAR(rows[0]["ppl"].get<double>(), e["ppl"].get<double>(), 1e-9);  // same rule, same tokens
  EXPECT_EQ(rows[0]["scored_tokens"], e["scored_tokens"]);
  // int8 is nearly lossless; Gaussian K=8 (R^2 ~ 0.08) breaks the model; svd at K >= d is exact.
  EXPECT_GT(rows[1]["top1_agreement"].get<double>(), 0.9);
  EXPECT_LT(rows[1]["kl_mean"].get<double>(), 0.01);
  EXPECT_LT(rows[2]["pooled_r2"].get<double>(), 0.2);
  EXPECT_GT(rows[2]["ppl"].get<double>(), 10 * rows[0]["ppl"].get<double>());
  EXPECT_GT(rows[3]["pooled_r2"].get<double>(), rows[2]["pooled_r2"].get<double>());
  EXPECT_NEAR(rows[5]["pooled_r2"].get<double>(), 1.0, 1e-6);
  EXPECT_NEAR(rows[5]["ppl"].get<double>(), rows[0]["ppl"].get<double>(), 1e-3 * rows[0]["ppl"].get<double>());
  EXPECT_EQ(rows[2]["stored_params"].get<uint64_t>(), 8u * 3512 + (260032 - 259328));
}

TEST(Compress, Paper68OnATiedModelFitsTheSharedEmbeddingOnce) {
  const auto bin = kModels / "stories260K.bin";
  if (!fs::exists(bin)) GTEST_SKIP() << "../shared/models not found: real-model test skipped";
  TempDir tmp;
  ctfile::CompressSettings s;
  s.K = 8;
  s.selection.preset = "paper68";  // selects lm_head, an alias of the embedding here
  auto sum = ctfile::compress_checkpoint(Checkpoint::open(bin), s, tmp.path / "p.ct.safetensors");
  EXPECT_EQ(sum.fitted_matrices, 36u);
  const ctfile::CtReader c(Checkpoint::open(tmp.path / "p.ct.safetensors"));
  ASSERT_NE(c.find(-1, Role::EmbedTokens), nullptr);
  EXPECT_TRUE(c.find(-1, Role::EmbedTokens)->fitted);
  EXPECT_EQ(c.find(-1, Role::LmHead)->alias_of, "tok_embeddings.weight");
}
