// synth: the planned tensor list at real shapes, the written checkpoint read
// back, structure (PR rising with depth, measured naively in double here),
// determinism, sharding, and the CLI end to end.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/checkpoint.hpp"
#include "synth/synth.hpp"
#include "util/error.hpp"
#include "ct_reference.hpp"
#include "test_support.hpp"

using namespace ctscope;
namespace fs = std::filesystem;

namespace {

using TempDir = test_support::TempDir;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

SynthResult synth(const fs::path& out, const std::string& preset, uint64_t seed, uint64_t shard = 0,
                  DType dt = DType::BF16) {
  SynthOptions o;
  o.preset = preset;
  o.seed = seed;
  o.shard_size = shard;
  o.dtype = dt;
  return synth_checkpoint(out, o);
}

// Centered weight PR from the naive reference: (tr C)^2 / tr(C^2), C = Wc^T Wc.
double naive_weight_pr(const std::vector<float>& w, int64_t n, int64_t d) {
  return ctref::participation_ratio(ctref::smaller_gram(ctref::column_centered({w.begin(), w.end()}, n, d), n, d),
                                    std::min(n, d));
}

struct Cmd {
  int rc;
  std::string out, err;
};

Cmd run(const std::string& args, const fs::path& dir) {
  const auto out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string cmd = std::string(CTSCOPE_BINARY) + " " + args + " >" + out.string() + " 2>" + err.string();
  int status = std::system(cmd.c_str());
  Cmd c{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
  fs::remove(out);
  fs::remove(err);
  return c;
}

}  // namespace

TEST(Synth, TinyLlamaPlanMatchesRealShapes) {
  const auto plan = synth_plan(synth_preset("tinyllama-1.1b").config, DType::BF16);
  ASSERT_EQ(plan.size(), 201u);
  uint64_t params = 0;
  for (const auto& e : plan) {
    uint64_t n = 1;
    for (auto s : e.shape) n *= static_cast<uint64_t>(s);
    params += n;
  }
  EXPECT_EQ(params, 1'100'048'384u);
  EXPECT_EQ(plan.front().name, "model.embed_tokens.weight");
  EXPECT_EQ(plan.front().shape, (std::vector<int64_t>{32000, 2048}));
  EXPECT_EQ(plan.back().name, "lm_head.weight");
  auto find = [&](const std::string& n) {
    for (const auto& e : plan)
      if (e.name == n) return e.shape;
    return std::vector<int64_t>{};
  };
  EXPECT_EQ(find("model.layers.21.self_attn.k_proj.weight"), (std::vector<int64_t>{256, 2048}));
  EXPECT_EQ(find("model.layers.0.mlp.down_proj.weight"), (std::vector<int64_t>{2048, 5632}));
  EXPECT_EQ(find("model.layers.3.mlp.gate_proj.weight"), (std::vector<int64_t>{5632, 2048}));
  EXPECT_EQ(find("model.layers.7.post_attention_layernorm.weight"), (std::vector<int64_t>{2048}));
  EXPECT_EQ(synth_plan(synth_preset("llama-7b").config, DType::BF16).size(), 2u + 32 * 9 + 1);
  EXPECT_THROW(synth_preset("nope"), Error);
}

TEST(Synth, TinyWritesReadableCheckpoint) {
  TempDir d;
  const auto out = d.path / "ck";
  auto r = synth(out, "tiny", 3);
  const auto& c = synth_preset("tiny").config;
  // Independent count: embed + head, 4 square-ish attn, 3 MLP, 2 norms per layer, final norm.
  const uint64_t kv = static_cast<uint64_t>(c.dim / c.n_heads * c.n_kv_heads);
  const uint64_t dim = static_cast<uint64_t>(c.dim), hid = static_cast<uint64_t>(c.hidden_dim);
  const uint64_t expect = 2 * static_cast<uint64_t>(c.vocab_size) * dim +
                          static_cast<uint64_t>(c.n_layers) * (2 * dim * dim + 2 * kv * dim + 3 * dim * hid + 2 * dim) +
                          dim;
  EXPECT_EQ(r.params, expect);
  EXPECT_LT(fs::file_size(out / "model.safetensors"), 1'000'000u);
  auto ck = Checkpoint::open(out);
  EXPECT_EQ(ck.tensors.size(), 2u + 9 * static_cast<size_t>(c.n_layers) + 1);
  EXPECT_EQ(ck.total_params(), expect);
  EXPECT_EQ(ck.config.dim, c.dim);
  EXPECT_EQ(ck.config.n_kv_heads, c.n_kv_heads);
  EXPECT_EQ(ck.metadata.at("format"), "pt");
  EXPECT_FALSE(fs::exists(d.path / ("ck.tmp-" + std::to_string(::getpid()))));
  // Matrices at std ~0.02 with zero mean; norm gains ~1.
  for (const auto& t : ck.tensors) {
    auto v = ck.read_f32(t);
    double s = 0, s2 = 0;
    for (float x : v) s += x, s2 += double(x) * x;
    const double mean = s / static_cast<double>(v.size());
    const double sd = std::sqrt(s2 / static_cast<double>(v.size()) - mean * mean);
    if (t.is_matrix()) {
      EXPECT_NEAR(sd, 0.02, 0.004) << t.name;
      EXPECT_NEAR(mean, 0.0, 0.004) << t.name;
    } else {
      EXPECT_NEAR(mean, 1.0, 0.01) << t.name;
      EXPECT_NEAR(sd, 0.02, 0.01) << t.name;
    }
  }
}

TEST(Synth, WeightPrRisesWithDepth) {
  TempDir d;
  synth(d.path / "ck", "small", 0);
  auto ck = Checkpoint::open(d.path / "ck");
  std::vector<double> layer_pr;
  for (int l = 0; l < ck.config.n_layers; ++l) {
    double sum = 0;
    int n = 0;
    for (const auto& t : ck.tensors) {
      if (t.layer != l || !t.is_matrix()) continue;
      const double pr = naive_weight_pr(ck.read_f32(t), t.rows(), t.cols());
      const double target = synth_target_pr(ck.config, l, t.rows(), t.cols());
      EXPECT_NEAR(pr / target, 1.0, 0.25) << t.name << " pr " << pr << " target " << target;
      sum += pr;
      ++n;
    }
    ASSERT_EQ(n, 7);
    layer_pr.push_back(sum / n);
  }
  for (size_t l = 1; l < layer_pr.size(); ++l) EXPECT_GT(layer_pr[l], layer_pr[l - 1] * 1.3) << "layer " << l;
  EXPECT_GT(layer_pr.back(), 3.0 * layer_pr.front());
}

TEST(Synth, DeterministicPerSeedAndShardingKeepsBytes) {
  TempDir d;
  synth(d.path / "a", "tiny", 5);
  synth(d.path / "b", "tiny", 5);
  synth(d.path / "c", "tiny", 6);
  const auto a = slurp(d.path / "a" / "model.safetensors");
  EXPECT_EQ(a, slurp(d.path / "b" / "model.safetensors"));
  const auto c = slurp(d.path / "c" / "model.safetensors");
  ASSERT_EQ(a.size(), c.size());
  EXPECT_NE(a, c);

  auto r = synth(d.path / "s", "tiny", 5, 100'000);
  EXPECT_GT(r.shards, 2);
  EXPECT_TRUE(fs::exists(d.path / "s" / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(d.path / "s" / "model.safetensors"));
  auto ca = Checkpoint::open(d.path / "a"), cs = Checkpoint::open(d.path / "s");
  EXPECT_EQ(cs.files.size(), static_cast<size_t>(r.shards));
  ASSERT_EQ(ca.tensors.size(), cs.tensors.size());
  for (size_t i = 0; i < ca.tensors.size(); ++i) {
    auto x = ca.bytes(ca.tensors[i]);
    auto y = cs.bytes(*cs.find(ca.tensors[i].name));
    ASSERT_EQ(x.size(), y.size());
    EXPECT_EQ(0, std::memcmp(x.data(), y.data(), x.size())) << ca.tensors[i].name;
  }
  // F32 output rounds to the same BF16 values.
  synth(d.path / "f", "tiny", 5, 0, DType::F32);
  auto cf = Checkpoint::open(d.path / "f");
  const auto& t = *cf.find("model.layers.1.mlp.up_proj.weight");
  EXPECT_EQ(t.dtype, DType::F32);
  auto vf = cf.read_f32(t), vb = ca.read_f32(*ca.find(t.name));
  for (size_t i = 0; i < vf.size(); ++i) ASSERT_EQ(bf16_to_f32(f32_to_bf16(vf[i])), vb[i]) << i;
}

TEST(Synth, ExistingOutputNeedsForce) {
  TempDir d;
  const auto out = d.path / "ck";
  synth(out, "tiny", 1);
  EXPECT_THROW(synth(out, "tiny", 2), Error);
  SynthOptions o;
  o.preset = "tiny";
  o.seed = 2;
  o.force = true;
  synth_checkpoint(out, o);
  EXPECT_EQ(Checkpoint::open(out).metadata.at("seed"), "2");
  // --force never deletes something that is not a checkpoint directory.
  fs::create_directories(d.path / "other");
  std::ofstream(d.path / "other" / "precious.txt") << "x";
  EXPECT_THROW(synth_checkpoint(d.path / "other", o), Error);
  EXPECT_TRUE(fs::exists(d.path / "other" / "precious.txt"));
  // Nothing but the checkpoints and the untouched directory is left around.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(d.path)) ++entries;
  EXPECT_EQ(entries, 2u);
}

TEST(SynthCli, SynthThenInspectJson) {
  TempDir d;
  auto s = run("synth " + (d.path / "ck").string() + " --preset tiny --seed 4", d.path);
  ASSERT_EQ(s.rc, 0) << s.err;
  auto i = run("inspect --json - " + (d.path / "ck").string(), d.path);
  ASSERT_EQ(i.rc, 0) << i.err;
  auto j = nlohmann::json::parse(i.out);
  EXPECT_EQ(j["tensors"].get<int>(), 39);
  EXPECT_EQ(j["total_params"].get<uint64_t>(), 214'592u);
  EXPECT_EQ(j["format"], "safetensors");
  EXPECT_EQ(j["config"]["n_layers"], 4);
  // An existing checkpoint directory is replaced, as every output is (no --force).
  auto again = run("synth " + (d.path / "ck").string() + " --preset tiny --seed 5", d.path);
  EXPECT_EQ(again.rc, 0) << again.err;
  EXPECT_EQ(Checkpoint::open(d.path / "ck").metadata.at("seed"), "5");
  auto bad = run("synth " + (d.path / "x").string() + " --preset nope", d.path);
  EXPECT_EQ(bad.rc, 2);
  EXPECT_FALSE(fs::exists(d.path / "x"));
  auto list = run("synth --list", d.path);
  EXPECT_EQ(list.rc, 0);
  EXPECT_NE(list.out.find("tinyllama-1.1b"), std::string::npos);
}

TEST(SynthCli, MalformedFileIsOneLineExit2) {
  TempDir d;
  const auto p = d.path / "bad.safetensors";
  std::ofstream(p, std::ios::binary) << std::string("\x10\0\0\0\0\0\0\0", 8) << "{\"a\": 1}        ";
  auto r = run("inspect " + p.string(), d.path);
  EXPECT_EQ(r.rc, 2);
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.back(), '\n');
  EXPECT_NE(r.err.find("bad.safetensors"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tensor 'a'"), std::string::npos) << r.err;
  const auto t = d.path / "trunc.safetensors";
  std::ofstream(t, std::ios::binary) << "abc";
  r = run("inspect " + t.string(), d.path);
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}
