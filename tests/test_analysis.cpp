// Whole-model analysis: selection and accounting on TinyLlama shapes, format
// independence on the real stories260K model, skipped tensors, CLI errors.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "ct/model_analysis.hpp"
#include "io/checkpoint.hpp"
#include "report/analysis_report.hpp"
#include "util/error.hpp"
#include "test_support.hpp"

using namespace ctscope;
namespace fs = std::filesystem;

namespace {

using test_support::kModels;

// A TinyLlama-1.1B-Chat-shaped tensor list (no data): enough for selection counts.
Checkpoint tinyllama_shapes() {
  Checkpoint ck;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    TensorInfo t;
    t.name = std::move(name);
    t.dtype = DType::BF16;
    t.shape = std::move(shape);
    ck.tensors.push_back(t);
  };
  const int64_t d = 2048, h = 5632, kv = 256, V = 32000;
  add("model.embed_tokens.weight", {V, d});
  for (int l = 0; l < 22; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "self_attn.q_proj.weight", {d, d});
    add(p + "self_attn.k_proj.weight", {kv, d});
    add(p + "self_attn.v_proj.weight", {kv, d});
    add(p + "self_attn.o_proj.weight", {d, d});
    add(p + "mlp.gate_proj.weight", {h, d});
    add(p + "mlp.up_proj.weight", {h, d});
    add(p + "mlp.down_proj.weight", {d, h});
    add(p + "input_layernorm.weight", {d});
    add(p + "post_attention_layernorm.weight", {d});
  }
  add("model.norm.weight", {d});
  add("lm_head.weight", {V, d});
  ck.assign_roles();
  return ck;
}

uint64_t rows_of(const ct::Selection& s) {
  uint64_t r = 0;
  for (const auto* t : s.matrices) r += static_cast<uint64_t>(t->rows());
  return r;
}

using test_support::count_lines;
using test_support::run_cli;

}  // namespace

TEST(Analysis, Paper68SelectionCountsOnTinyLlamaShapes) {
  Checkpoint ck = tinyllama_shapes();
  EXPECT_EQ(ck.tensors.size(), 201u);
  EXPECT_EQ(ck.total_params(), 1100048384u);
  ct::AnalysisSettings s;
  s.selection.preset = "paper68";
  auto sel = ct::select_tensors(ck, s.selection, 64);
  EXPECT_EQ(sel.matrices.size(), 22u * 7 + 1);
  EXPECT_EQ(rows_of(sel), 426240u);
  EXPECT_EQ(64 * rows_of(sel), 27279360u);
  // The paper's 40.3x divides the TOTAL parameter count by the amplitudes.
  EXPECT_NEAR(1100048384.0 / 27279360.0, 40.3, 0.05);

  ct::AnalysisSettings all;
  auto every = ct::select_tensors(ck, all.selection, 64);
  EXPECT_EQ(every.matrices.size(), 22u * 7 + 2);
  EXPECT_EQ(every.skipped.size(), 45u);  // the 1-D norms, listed with a reason
  for (const auto& [name, why] : every.skipped) EXPECT_NE(why.find("1-D"), std::string::npos) << name;

  all.selection.include = "mlp";
  all.selection.exclude = "down_proj";
  EXPECT_EQ(ct::select_tensors(ck, all.selection, 64).matrices.size(), 44u);
  all.selection.include = "(";
  EXPECT_THROW(ct::select_tensors(ck, all.selection, 64), Error);
}

TEST(Analysis, SameNumbersFromLlama2cAndGguf) {
  const auto bin = kModels / "stories260K.bin", gguf = kModels / "tinyllamas-stories-260k-f32.gguf";
  if (!fs::exists(bin) || !fs::exists(gguf)) GTEST_SKIP() << "../shared/models not found: real-model test skipped";
  ct::AnalysisSettings s;
  s.Ks = {8, 32};
  auto a = ct::analyze_model(Checkpoint::open(bin), s);
  auto b = ct::analyze_model(Checkpoint::open(gguf), s);
  ASSERT_EQ(a.matrices.size(), b.matrices.size());
  ASSERT_EQ(a.matrices.size(), 5u * 7 + 1);  // tied classifier analyzed once
  std::map<std::pair<int, Role>, const ct::MatrixRecord*> by_role;
  for (const auto& m : b.matrices) by_role[{m.layer, m.role}] = &m;
  for (const auto& m : a.matrices) {
    auto it = by_role.find({m.layer, m.role});
    ASSERT_NE(it, by_role.end()) << m.name;
    const auto& x = m.result;
    const auto& y = it->second->result;
    EXPECT_EQ(x.n, y.n);
    EXPECT_EQ(x.d, y.d);
    EXPECT_DOUBLE_EQ(x.sst, y.sst) << m.name;
    EXPECT_NEAR(x.weight_pr, y.weight_pr, 1e-9 * x.weight_pr) << m.name;
    for (size_t k = 0; k < x.fits.size(); ++k) EXPECT_NEAR(x.fits[k].r2, y.fits[k].r2, 1e-9) << m.name;
  }
  EXPECT_EQ(a.total_params, b.total_params);
  EXPECT_EQ(a.rows, b.rows);
  // Aggregates follow from the per-matrix numbers.
  double sse = 0, sst = 0;
  for (const auto& m : a.matrices) {
    sse += m.result.fits[1].sse;
    sst += m.result.sst;
  }
  EXPECT_NEAR(a.model.fits[1].pooled_r2(), 1 - sse / sst, 1e-12);
  EXPECT_EQ(a.accounting[1].amplitude_params, 32 * a.rows);
  EXPECT_NEAR(a.accounting[1].compression_paper,
              static_cast<double>(a.total_params) / static_cast<double>(32 * a.rows), 1e-9);
}

TEST(Analysis, NanTensorIsReportedAndTheRunContinues) {
  const auto bin = kModels / "stories260K.bin";
  if (!fs::exists(bin)) GTEST_SKIP() << "../shared/models not found: real-model test skipped";
  // Poison one element of layer 0's wq in a copy of the file.
  Checkpoint src = Checkpoint::open(bin);
  const TensorInfo* wq = src.find(0, Role::QProj);
  ASSERT_NE(wq, nullptr);
  const auto copy = fs::temp_directory_path() / ("ctscope_nan_" + std::to_string(::getpid()) + ".bin");
  fs::copy_file(bin, copy, fs::copy_options::overwrite_existing);
  {
    std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(wq->offset + 4 * 10));
    const float nan = std::nanf("");
    f.write(reinterpret_cast<const char*>(&nan), 4);
  }
  auto a = ct::analyze_model(Checkpoint::open(copy), ct::AnalysisSettings{});
  fs::remove(copy);
  bool reported = false;
  for (const auto& sk : a.skipped)
    if (sk.name == wq->name) reported = sk.reason.find("NaN") != std::string::npos;
  EXPECT_TRUE(reported);
  EXPECT_EQ(a.matrices.size(), 5u * 7);  // every other matrix still analyzed
}

TEST(Analysis, CliReportJsonCsvAndUsageErrors) {
  const auto bin = kModels / "stories260K.bin";
  if (!fs::exists(bin)) GTEST_SKIP() << "../shared/models not found: real-model test skipped";
  const auto dir = fs::temp_directory_path() / ("ctscope_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto r = run_cli("analyze " + bin.string() + " --K 8,64 --json " + (dir / "a.json").string() + " --csv " +
                   (dir / "a.csv").string() + " --markdown " + (dir / "a.md").string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("best linear K-dim (SVD)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("random directions"), std::string::npos);
  auto j = nlohmann::json::parse(std::ifstream(dir / "a.json"));
  for (const char* key : {"tool", "model", "settings", "matrices", "layers", "summary", "timing"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["model"]["format"], "llama2c");
  EXPECT_EQ(j["settings"]["K"], nlohmann::json({8, 64}));
  EXPECT_EQ(j["matrices"][0]["fits"].size(), 2u);
  EXPECT_TRUE(j["matrices"][0]["layer"].is_null());  // tok_embeddings
  EXPECT_EQ(j["layers"].size(), 5u);
  EXPECT_EQ(j["summary"]["fits"][1]["amplitude_params"], 64 * j["summary"]["rows"].get<int64_t>());
  std::ifstream csv(dir / "a.csv");
  std::string all((std::istreambuf_iterator<char>(csv)), std::istreambuf_iterator<char>());
  EXPECT_EQ(count_lines(all), 1 + 2 * 36);  // header + (36 matrices x 2 K)

  for (const char* bad : {"--K 0", "--K 8,x", "--K ''", "--basis wavelet", "--preset paper99"}) {
    auto e = run_cli("analyze " + bin.string() + " " + bad);
    EXPECT_EQ(e.code, 2) << bad;
    EXPECT_EQ(count_lines(e.err), 1) << bad << ": " << e.err;
  }
  // An unwritable --json fails before the run and leaves nothing behind.
  auto e = run_cli("analyze " + bin.string() + " --json /nonexistent-dir/x.json");
  EXPECT_EQ(e.code, 2);
  EXPECT_EQ(count_lines(e.err), 1) << e.err;
  EXPECT_NE(e.err.find("/nonexistent-dir/x.json"), std::string::npos);
  auto missing = run_cli("analyze " + (dir / "nope.gguf").string());
  EXPECT_EQ(missing.code, 2);
  EXPECT_EQ(count_lines(missing.err), 1);
  fs::remove_all(dir);
}

TEST(Analysis, SparklineAndVerdict) {
  EXPECT_EQ(report::sparkline({0, 1}), "▁█");
  ct::FitAggregate f;
  f.K = 64;
  ct::FitResult r;
  r.K = 64;
  r.sse = 97;
  r.r2 = 0.03;
  r.r2_svd = r.r2_bound = 0.25;
  r.r2_null = 0.03;
  r.amplitude_pr = 4;
  r.amplitude_pr_null = 4;
  ct::MatrixResult m;
  m.n = 10;
  m.d = 100;
  m.sst = 100;
  f.add(r, m);
  auto v = report::verdict(f);
  EXPECT_NE(v.find("3.0% of the variance"), std::string::npos) << v;
  EXPECT_NE(v.find("25.0%"), std::string::npos) << v;
  EXPECT_NE(v.find("no better than random"), std::string::npos) << v;
  EXPECT_NE(v.find("no sign of low-dimensional amplitudes"), std::string::npos) << v;  // PR = its null
}
