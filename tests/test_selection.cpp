// Tensor selection (--include/--exclude/--role/--layers) matches what `inspect`
// shows, the same in every format: the file's own names and the canonical
// Hugging Face names of the roles; a selection that matches nothing is an error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "ct/tensor_selection.hpp"
#include "io/checkpoint.hpp"
#include "util/error.hpp"
#include "test_support.hpp"

using namespace ctscope;
namespace fs = std::filesystem;
using test_support::count_lines;
using test_support::kModels;
using test_support::run_cli;

namespace {

// (layer, role) of every selected matrix: comparable across formats.
std::set<std::pair<int, std::string>> picked(const Checkpoint& ck, const ct::TensorSelection& s, int64_t K = 4) {
  std::set<std::pair<int, std::string>> out;
  for (const auto* t : ct::select_tensors(ck, s, K).matrices) out.emplace(t->layer, std::string(role_name(t->role)));
  return out;
}

std::string error_of(const Checkpoint& ck, const ct::TensorSelection& s) {
  try {
    ct::select_tensors(ck, s, 4);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

ct::TensorSelection include(std::string re) {
  ct::TensorSelection s;
  s.include = std::move(re);
  return s;
}

ct::TensorSelection roles(std::vector<std::string> r) {
  ct::TensorSelection s;
  s.roles = std::move(r);
  return s;
}

}  // namespace

TEST(Selection, LayerRangesParse) {
  using R = ct::LayerRange;
  EXPECT_EQ(ct::parse_layer_ranges("0-5,10,20-21"), (std::vector<R>{{0, 5}, {10, 10}, {20, 21}}));
  EXPECT_EQ(ct::parse_layer_ranges("3"), (std::vector<R>{{3, 3}}));
  EXPECT_EQ(ct::parse_layer_ranges(" 1 - 2 , 4 "), (std::vector<R>{{1, 2}, {4, 4}}));
  EXPECT_EQ(ct::parse_layer_ranges("7-7"), (std::vector<R>{{7, 7}}));
  for (const char* bad : {"", ",", "1,", ",1", "1,,2", "a", "1-", "-1", "-", "5-2", "1-2-3", "1.5", "0x3",
                          "99999999999", "1 2"}) {
    try {
      ct::parse_layer_ranges(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("--layers '" + std::string(bad) + "'"), std::string::npos) << what;
      EXPECT_NE(what.find("0-5,10,20-21"), std::string::npos) << what;  // says how to write it
    }
  }
}

TEST(Selection, FittableRoleNamesAreTheHuggingFaceOnes) {
  EXPECT_EQ(ct::fittable_role_names(),
            (std::vector<std::string>{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
                                      "embed_tokens", "lm_head"}));
}

TEST(Selection, IncludeAndRoleSelectTheSameTensorsInEveryFormat) {
  CTSCOPE_REQUIRE_MODEL("llama-2-tiny-random.gguf");
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  CTSCOPE_REQUIRE_MODEL("tinyllamas-stories-260k-f32.gguf");
  const Checkpoint gguf = Checkpoint::open(kModels / "llama-2-tiny-random.gguf");  // blk.N.attn_q.weight
  const Checkpoint bin = Checkpoint::open(kModels / "stories260K.bin");            // layers.N.attention.wq.weight
  const Checkpoint bin_gguf = Checkpoint::open(kModels / "tinyllamas-stories-260k-f32.gguf");
  for (const Checkpoint* ck : {&gguf, &bin, &bin_gguf}) {
    const auto by_name = picked(*ck, include("q_proj")), by_role = picked(*ck, roles({"q_proj"}));
    ASSERT_EQ(by_name.size(), static_cast<size_t>(ck->config.n_layers)) << ck->path;
    EXPECT_EQ(by_name, by_role) << ck->path;
    for (const auto& [layer, role] : by_name) EXPECT_EQ(role, "q_proj");
    // The native names still work, and the HF path too.
    EXPECT_EQ(picked(*ck, include("self_attn\\.q_proj")), by_role);
  }
  EXPECT_EQ(picked(gguf, include("attn_q")), picked(gguf, roles({"q_proj"})));
  EXPECT_EQ(picked(bin, include("attention\\.wq")), picked(bin, roles({"q_proj"})));
  // The same model in two formats: the same (layer, role) for every role and name.
  for (const char* re : {"q_proj|k_proj", "mlp", "down_proj", "embed_tokens", "lm_head", "layers\\.3\\."})
    EXPECT_EQ(picked(bin, include(re)), picked(bin_gguf, include(re))) << re;
  EXPECT_EQ(picked(bin, roles({"k_proj", "gate_proj"})), picked(bin_gguf, roles({"k_proj", "gate_proj"})));
  // --exclude by role name: the GGUF's ffn_* go with "mlp".
  ct::TensorSelection no_mlp;
  no_mlp.exclude = "mlp";
  for (const auto& [layer, role] : picked(gguf, no_mlp))
    EXPECT_TRUE(role != "gate_proj" && role != "up_proj" && role != "down_proj") << role;
  EXPECT_EQ(picked(gguf, no_mlp).size(), picked(gguf, {}).size() - 3 * static_cast<size_t>(gguf.config.n_layers));
}

TEST(Selection, LayersNarrowToBlocksAndAreCheckedAgainstTheModel) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  const Checkpoint bin = Checkpoint::open(kModels / "stories260K.bin");  // 5 layers, 7 matrices each
  ct::TensorSelection s;
  s.layers = "0-1,4";
  const auto got = picked(bin, s, 8);
  EXPECT_EQ(got.size(), 3u * 7);
  for (const auto& [layer, role] : got) EXPECT_TRUE(layer == 0 || layer == 1 || layer == 4) << layer;
  s.roles = {"v_proj"};
  EXPECT_EQ(picked(bin, s, 8), (std::set<std::pair<int, std::string>>{{0, "v_proj"}, {1, "v_proj"}, {4, "v_proj"}}));
  s = {};
  s.layers = "0-5";
  const std::string e = error_of(bin, s);
  EXPECT_NE(e.find("stories260K.bin"), std::string::npos) << e;
  EXPECT_NE(e.find("layer 5 is out of range (the model has 5 layers: 0-4)"), std::string::npos) << e;
}

TEST(Selection, NothingMatchedIsAnErrorNamingModelAndSelection) {
  CTSCOPE_REQUIRE_MODEL("llama-2-tiny-random.gguf");
  const Checkpoint gguf = Checkpoint::open(kModels / "llama-2-tiny-random.gguf");
  std::string e = error_of(gguf, include("q_projx"));
  EXPECT_NE(e.find("llama-2-tiny-random.gguf"), std::string::npos) << e;
  EXPECT_NE(e.find("include /q_projx/"), std::string::npos) << e;
  EXPECT_NE(e.find("matches no tensor"), std::string::npos) << e;
  ct::TensorSelection paper_embed;  // paper68 has no embedding (lm_head stands for the vocabulary)
  paper_embed.preset = "paper68";
  paper_embed.roles = {"embed_tokens"};
  EXPECT_NE(error_of(gguf, paper_embed).find("matches no tensor"), std::string::npos);
  e = error_of(gguf, roles({"wq"}));
  EXPECT_NE(e.find("--role 'wq': unknown (known: q_proj, k_proj"), std::string::npos) << e;
  // Matched but unfittable (the 1-D norms) is not "no match": listed as skipped.
  const auto sel = ct::select_tensors(gguf, include("input_layernorm"), 4);
  EXPECT_TRUE(sel.matrices.empty());
  EXPECT_EQ(sel.skipped.size(), static_cast<size_t>(gguf.config.n_layers));
}

TEST(Selection, EveryCommandThatSelectsAcceptsAndChecksTheOptions) {
  CTSCOPE_REQUIRE_MODEL("llama-2-tiny-random.gguf");
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  const std::string gguf = (kModels / "llama-2-tiny-random.gguf").string();
  const std::string bin = (kModels / "stories260K.bin").string();
  test_support::TempDir tmp("selection");
  const std::string json = (tmp / "a.json").string();

  auto r = run_cli("analyze " + gguf + " --K 4 --include q_proj --quiet --json " + json);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(std::ifstream(json));
  ASSERT_FALSE(j["matrices"].empty());
  for (const auto& m : j["matrices"]) EXPECT_EQ(m["role"], "q_proj") << m["name"];
  EXPECT_EQ(j["settings"]["selection_options"]["include"], "q_proj");

  r = run_cli("analyze " + bin + " --K 8 --role q_proj,k_proj --layers 1-2 --quiet --json " + json);
  ASSERT_EQ(r.code, 0) << r.err;
  j = nlohmann::json::parse(std::ifstream(json));
  EXPECT_EQ(j["matrices"].size(), 4u);
  EXPECT_EQ(j["settings"]["selection_options"]["roles"], nlohmann::json({"q_proj", "k_proj"}));
  EXPECT_EQ(j["settings"]["selection_options"]["layers"], "1-2");

  r = run_cli("compress " + bin + " --K 8 --role o_proj -q -o " + (tmp / "m.ct.safetensors").string());
  EXPECT_EQ(r.code, 0) << r.err;

  struct Bad {
    std::string args, needle;
  };
  const std::string text = std::string(CTSCOPE_SOURCE_DIR) + "/tests/data/story.txt";
  for (const Bad& b : std::vector<Bad>{
           {"analyze " + gguf + " --K 4 --include q_projx", "matches no tensor"},
           {"analyze " + gguf + " --K 4 --include q_projx", "llama-2-tiny-random.gguf"},
           {"analyze " + bin + " --role wq", "unknown role 'wq' (known: q_proj, k_proj, v_proj"},
           {"analyze " + bin + " --layers 0-9", "the model has 5 layers"},
           {"analyze " + bin + " --layers 0,1-x", "--layers: '1-x' is not a layer number or range"},
           {"compress " + bin + " --K 8 --exclude . -o " + (tmp / "x.ct.safetensors").string(), "matches no tensor"},
           {"eval-compression " + bin + " --tokenizer " + (kModels / "tok512.bin").string() + " --text " + text +
                " --ctx 64 --K 8 --layers 7",
            "the model has 5 layers"},
       }) {
    r = run_cli(b.args);
    EXPECT_EQ(r.code, 2) << b.args << "\n" << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << b.args << "\n" << r.err;
    EXPECT_NE(r.err.find(b.needle), std::string::npos) << b.args << "\n" << r.err;
  }
}
