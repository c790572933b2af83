// The Llama forward pass against an independent reference (stories260K.greedy.json:
// greedy ids and top-5 logits from a separate numpy implementation), across
// formats (llama2.c, GGUF) and rotary layouts, plus batched == incremental.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <nlohmann/json.hpp>

#include "runtime/llama_model.hpp"
#include "runtime/llama_weights.hpp"
#include "io/checkpoint.hpp"
#include "io/safetensors_writer.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace ctscope;

namespace {

using test_support::kModels;

#define REQUIRE_MODELS() CTSCOPE_REQUIRE_MODEL("stories260K.bin")

nlohmann::json reference_cases() {
  std::ifstream in(kModels / "stories260K.greedy.json");
  nlohmann::json cases = nlohmann::json::array();
  const auto all = nlohmann::json::parse(in);
  for (const auto& c : all["cases"])
    if (c["model"] == "stories260K.bin") cases.push_back(c);  // other models are not in the folder
  return cases;
}

int32_t argmax(std::span<const float> v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// run.c's loop: `steps` positions, prompt forced, then argmax; returns steps+1 ids.
std::vector<int32_t> greedy(LlamaModel& m, std::vector<int32_t> ids, size_t steps) {
  m.reset();
  auto logits = m.forward(ids);
  while (ids.size() < steps + 1) {
    ids.push_back(argmax(logits));
    if (ids.size() < steps + 1) logits = m.forward(std::span(&ids.back(), 1));
  }
  return ids;
}

void expect_top5(std::span<const float> logits, const nlohmann::json& top5, const std::string& what) {
  for (const auto& e : top5) {
    const int id = e[0].get<int>();
    EXPECT_NEAR(logits[static_cast<size_t>(id)], e[1].get<double>(), 1e-3) << what << " token " << id;
  }
  EXPECT_EQ(argmax(logits), top5[0][0].get<int>()) << what;
}

void check_against_reference(LlamaModel& m, const std::string& label) {
  const auto cases = reference_cases();
  ASSERT_EQ(cases.size(), 3u);
  for (const auto& c : cases) {
    const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    const auto want = c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(greedy(m, prompt, c["steps_positions"].get<size_t>()), want) << label << ": " << c["case"];
    m.reset();
    const int32_t bos = 1;
    expect_top5(m.forward(std::span(&bos, 1)), c["top5_logits_after_BOS"], label + " after BOS");
    m.reset();
    expect_top5(m.forward(prompt), c["top5_logits_after_prompt_ids"], label + " after prompt");
  }
}

std::shared_ptr<const LlamaWeights> load(const fs::path& p) {
  return std::make_shared<const LlamaWeights>(load_llama_weights(Checkpoint::open(p)));
}

// HF's convert_llama_weights_to_hf.py permute(): rows (2i, 2i+1) of each head go
// to (i, i + head_dim/2).
std::vector<float> permute_to_half_split(const std::vector<float>& w, int64_t heads, int64_t head_dim, int64_t cols) {
  std::vector<float> out(w.size());
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t s = 0; s < 2; ++s)
        std::copy_n(w.data() + ((h * head_dim) + 2 * i + s) * cols, cols,
                    out.data() + ((h * head_dim) + s * half + i) * cols);
  return out;
}

}  // namespace

TEST(Forward, Llama2cGreedyMatchesReference) {
  REQUIRE_MODELS();
  LlamaModel m(load(kModels / "stories260K.bin"));
  check_against_reference(m, "llama2.c");
}

TEST(Forward, GgufV1GreedyMatchesReference) {
  REQUIRE_MODELS();
  LlamaModel m(load(kModels / "tinyllamas-stories-260k-f32.gguf"));
  check_against_reference(m, "gguf");
}

TEST(Forward, BatchedEqualsIncremental) {
  REQUIRE_MODELS();
  auto w = load(kModels / "stories260K.bin");
  LlamaModel a(w), b(w);
  // 80 tokens: the batched call takes the SGEMM attention path, one token the loop.
  const auto ids = reference_cases()[0]["ids"].get<std::vector<int32_t>>();
  auto all = a.forward(ids, /*all_logits=*/true);
  const std::vector<float> batched(all.begin(), all.end());
  ASSERT_EQ(batched.size(), ids.size() * 512);
  for (size_t t = 0; t < ids.size(); ++t) {
    auto one = b.forward(std::span(&ids[t], 1));
    for (size_t v = 0; v < 512; ++v) ASSERT_NEAR(one[v], batched[t * 512 + v], 1e-4) << "t " << t << " v " << v;
  }
  // Continuing a cache in chunks (second one long: SGEMM path at pos0 > 0) gives the same.
  LlamaModel c(w);
  c.forward(std::span(ids.data(), 5));
  auto rest = c.forward(std::span(ids.data() + 5, ids.size() - 5), true);
  for (size_t v = 0; v < rest.size(); ++v) ASSERT_NEAR(rest[v], batched[5 * 512 + v], 1e-4);
}

TEST(Forward, HalfSplitWithPermutedWeightsFromCallback) {
  REQUIRE_MODELS();
  const Checkpoint ck = Checkpoint::open(kModels / "stories260K.bin");
  ModelConfig cfg = ck.config;
  cfg.rope = RopeLayout::HalfSplit;
  const int64_t hd = cfg.head_dim();
  WeightSource src = [&](int layer, Role role) -> std::vector<float> {
    const TensorInfo* t = ck.find(layer, role);
    if (role == Role::LmHead) return {};  // tied
    auto v = ck.read_f32(*t);
    if (role == Role::QProj) return permute_to_half_split(v, cfg.n_heads, hd, cfg.dim);
    if (role == Role::KProj) return permute_to_half_split(v, cfg.n_kv_heads, hd, cfg.dim);
    return v;
  };
  LlamaModel m(std::make_shared<const LlamaWeights>(load_llama_weights(cfg, src, "callback")));
  check_against_reference(m, "half-split");
  // The permuted weights with the wrong (interleaved) rotation differ: the test can fail.
  cfg.rope = RopeLayout::Interleaved;
  LlamaModel wrong(std::make_shared<const LlamaWeights>(load_llama_weights(cfg, src, "callback")));
  const auto want = reference_cases()[0]["ids"].get<std::vector<int32_t>>();
  EXPECT_NE(greedy(wrong, {1}, want.size() - 1), want);
}

TEST(Forward, RejectsBadInput) {
  REQUIRE_MODELS();
  auto w = load(kModels / "stories260K.bin");
  LlamaModel m(w, 8);
  const std::vector<int32_t> bad = {1, 512};
  EXPECT_THROW(m.forward(bad), Error);
  const std::vector<int32_t> nine(9, 1);
  EXPECT_THROW(m.forward(nine), Error);
  ModelConfig cfg = w->config;
  cfg.architecture = "mistral";
  WeightSource none = [](int, Role) { return std::vector<float>(); };
  EXPECT_THROW(load_llama_weights(cfg, none, "x"), Error);
  cfg = w->config;
  cfg.n_kv_heads = 3;
  EXPECT_THROW(load_llama_weights(cfg, none, "x"), Error);
  cfg = w->config;
  WeightSource short_src = [](int, Role) { return std::vector<float>(7); };
  EXPECT_THROW(load_llama_weights(cfg, short_src, "x"), Error);
}

TEST(Forward, HuggingFaceSafetensorsConversionMatchesReference) {
  REQUIRE_MODELS();
  // stories260K as a Hugging Face directory: HF names, q/k rows permuted to the
  // half-split layout as convert_llama_weights_to_hf.py does, tied classifier omitted.
  const Checkpoint src = Checkpoint::open(kModels / "stories260K.bin");
  const auto& c = src.config;
  const fs::path dir = fs::temp_directory_path() / ("ctscope_fwd_hf_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::vector<SafetensorsEntry> entries;
  std::vector<std::vector<float>> data;
  auto add = [&](int layer, Role role) {
    const TensorInfo* t = src.find(layer, role);
    ASSERT_NE(t, nullptr) << role_name(role) << " " << layer;
    auto v = src.read_f32(*t);
    if (role == Role::QProj) v = permute_to_half_split(v, c.n_heads, c.head_dim(), c.dim);
    if (role == Role::KProj) v = permute_to_half_split(v, c.n_kv_heads, c.head_dim(), c.dim);
    entries.push_back({hf_tensor_name(layer, role), DType::F32, t->shape});
    data.push_back(std::move(v));
  };
  add(-1, Role::EmbedTokens);
  for (int l = 0; l < c.n_layers; ++l)
    for (Role r : {Role::InputLayernorm, Role::QProj, Role::KProj, Role::VProj, Role::OProj,
                   Role::PostAttentionLayernorm, Role::GateProj, Role::UpProj, Role::DownProj})
      add(l, r);
  add(-1, Role::Norm);
  SafetensorsWriter w(dir / "model.safetensors", entries);
  for (size_t i = 0; i < entries.size(); ++i) w.write(entries[i].name, data[i].data(), data[i].size() * sizeof(float));
  w.commit();
  ModelConfig hf = c;
  hf.tie_embeddings = true;
  write_file_atomic(dir / "config.json", to_hf_config(hf, "float32").dump(2));

  const Checkpoint ck = Checkpoint::open(dir);
  EXPECT_EQ(ck.config.rope, RopeLayout::HalfSplit);
  LlamaModel m(load(dir));
  check_against_reference(m, "safetensors");
  fs::remove_all(dir);
}
