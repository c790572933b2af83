// MODEL as users have it: a Hugging Face hub cache folder (refs/main ->
// snapshots/<hash>/, files symlinked into blobs/ like the real cache), a repo id
// looked up in $HF_HUB_CACHE, and the tokenizer found beside the model.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <optional>
#include <filesystem>
#include <unistd.h>

#include "hf_fixtures.hpp"
#include "io/checkpoint.hpp"
#include "io/model_path.hpp"
#include "io/safetensors_writer.hpp"
#include "text/tokenizer.hpp"
#include "util/error.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace ctscope;
using test_support::kModels;
using test_support::TempDir;
using test_support::write_bytes;

namespace {

constexpr const char* kHash = "0123456789abcdef0123456789abcdef01234567";
const char* kConfig = R"({"model_type": "llama", "hidden_size": 8, "intermediate_size": 16,
  "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 32})";

void write_tensors(const fs::path& p, const std::vector<std::string>& names) {
  std::vector<SafetensorsEntry> e;
  for (const auto& n : names) e.push_back({n, DType::F32, {2}});
  SafetensorsWriter w(p, e);
  const float v[2] = {1.f, 2.f};
  for (const auto& n : names) w.write(n, v, sizeof v);
  w.commit();
}

// Puts `name` into the snapshot as the hub does: the bytes in blobs/<id>, a
// relative symlink snapshots/<hash>/<name> -> ../../blobs/<id>.
void add_blob(const fs::path& root, const std::string& name, const std::function<void(const fs::path&)>& write) {
  static int n = 0;
  const fs::path blob = root / "blobs" / ("blob" + std::to_string(n++));
  fs::create_directories(root / "blobs");
  fs::create_directories(root / "snapshots" / kHash);
  write(blob);
  fs::create_symlink(fs::path("../../blobs") / blob.filename(), root / "snapshots" / kHash / name);
}

// cache/models--org--tiny with a config, a sharded model and a tokenizer.json.
fs::path make_cache_repo(const fs::path& cache, bool with_ref = true) {
  const fs::path root = cache / "models--org--tiny";
  add_blob(root, "config.json", [](const fs::path& p) { write_bytes(p, kConfig); });
  add_blob(root, "model-00001-of-00002.safetensors", [](const fs::path& p) { write_tensors(p, {"model.norm.weight"}); });
  add_blob(root, "model-00002-of-00002.safetensors", [](const fs::path& p) { write_tensors(p, {"lm_head.bias"}); });
  add_blob(root, "model.safetensors.index.json", [](const fs::path& p) {
    write_bytes(p, R"({"metadata": {"total_size": 16}, "weight_map": {"model.norm.weight": "model-00001-of-00002.safetensors",
                    "lm_head.bias": "model-00002-of-00002.safetensors"}})");
  });
  add_blob(root, "tokenizer.json", [](const fs::path& p) { write_bytes(p, test_support::sp_style_tokenizer(true).dump()); });
  if (with_ref) {
    fs::create_directories(root / "refs");
    write_bytes(root / "refs" / "main", std::string(kHash) + "\n");
  }
  return root;
}

// Sets an environment variable for one scope.
struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) old = v;
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old) ::setenv(name.c_str(), old->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(HubCache, CacheRootResolvesRefsMainToSnapshot) {
  const TempDir d("hub");
  const fs::path root = make_cache_repo(d.path);
  const Checkpoint ck = Checkpoint::open(root);
  EXPECT_EQ(ck.path, root / "snapshots" / kHash);
  ASSERT_EQ(ck.tensors.size(), 2u);  // both shards, read through the symlinks
  EXPECT_EQ(ck.config.vocab_size, 32);
  // The tokenizer.json in the snapshot is found without --tokenizer.
  const auto tok = open_tokenizer(ck, std::nullopt);
  EXPECT_EQ(tok->encode("h\xc3\xa9llo", true), (std::vector<int32_t>{1, 26}));
  // The snapshot directory itself is a plain model directory.
  EXPECT_EQ(Checkpoint::open(root / "snapshots" / kHash).tensors.size(), 2u);
}

TEST(HubCache, RepoIdIsLookedUpInTheCache) {
  const TempDir d("hub_id");
  make_cache_repo(d.path);
  const ScopedEnv cache("HF_HUB_CACHE", d.path.string());
  EXPECT_EQ(hf_hub_cache_dir(), d.path);
  EXPECT_EQ(Checkpoint::open("org/tiny").path, d.path / "models--org--tiny" / "snapshots" / kHash);
  const std::string msg = error_of([] { Checkpoint::open("org/absent"); });
  EXPECT_NE(msg.find("org/absent: "), std::string::npos) << msg;
  EXPECT_NE(msg.find((d.path / "models--org--absent").string()), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  // Not a repo id (two slashes, "..", absolute): a plain "no such file".
  for (const char* p : {"a/b/c", "../x", "/no/such"})
    EXPECT_NE(error_of([p] { Checkpoint::open(p); }).find("no such file or directory"), std::string::npos) << p;
  // The CLI takes the repo id as MODEL too.
  const auto r = test_support::run_cli("inspect org/tiny");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(kHash), std::string::npos) << r.out;
}

TEST(HubCache, HfHomeAndDefaultLocations) {
  const ScopedEnv a("HF_HUB_CACHE", ""), b("HUGGINGFACE_HUB_CACHE", ""), c("HF_HOME", "/x/hf"), e("HOME", "/home/u");
  EXPECT_EQ(hf_hub_cache_dir(), fs::path("/x/hf/hub"));
  const ScopedEnv f("HF_HOME", ""), g("XDG_CACHE_HOME", "");
  EXPECT_EQ(hf_hub_cache_dir(), fs::path("/home/u/.cache/huggingface/hub"));
}

TEST(HubCache, ARealPathWinsOverARepoId) {
  const TempDir d("hub_real");
  make_cache_repo(d.path / "cache");
  fs::create_directories(d.path / "org" / "tiny");
  write_bytes(d.path / "org" / "tiny" / "config.json", kConfig);
  write_tensors(d.path / "org" / "tiny" / "model.safetensors", {"model.norm.weight"});
  const ScopedEnv cache("HF_HUB_CACHE", (d.path / "cache").string());
  const fs::path cwd = fs::current_path();
  fs::current_path(d.path);
  const Checkpoint ck = Checkpoint::open("org/tiny");
  fs::current_path(cwd);
  EXPECT_EQ(ck.path, fs::path("org/tiny"));
  EXPECT_EQ(ck.tensors.size(), 1u);  // the local directory, not the cached 2-shard model
}

TEST(HubCache, BrokenCacheFolders) {
  const TempDir d("hub_bad");
  // No refs/main but one snapshot: that one.
  const fs::path lone = make_cache_repo(d.path / "a", /*with_ref=*/false);
  EXPECT_EQ(Checkpoint::open(lone).path, lone / "snapshots" / kHash);
  // refs/main naming a snapshot that is not there.
  const fs::path root = make_cache_repo(d.path / "b");
  write_bytes(root / "refs" / "main", "ffffffffffffffffffffffffffffffffffffffff");
  EXPECT_NE(error_of([&] { Checkpoint::open(root); }).find("which is missing"), std::string::npos);
  // refs/main that is not a revision (it would otherwise walk out of the folder).
  write_bytes(root / "refs" / "main", "../../../etc");
  const std::string msg = error_of([&] { Checkpoint::open(root); });
  EXPECT_NE(msg.find((root / "refs" / "main").string() + ": not a revision"), std::string::npos) << msg;
  // Two snapshots and no refs/main: ambiguous.
  fs::remove(root / "refs" / "main");
  fs::create_directories(root / "snapshots" / "other");
  EXPECT_NE(error_of([&] { Checkpoint::open(root); }).find("2 snapshots"), std::string::npos);
}

TEST(TokenizerDiscovery, Llama2cBinFindsTokNextToIt) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  // The shared folder holds stories260K.bin beside tok512.bin (llama2.c's naming).
  const Checkpoint shared = Checkpoint::open(kModels / "stories260K.bin");
  EXPECT_EQ(open_tokenizer(shared, std::nullopt)->encode("Once upon a time", true),
            (std::vector<int32_t>{1, 403, 407, 261, 378}));
  const TempDir d("tokfind");
  fs::create_symlink(kModels / "stories260K.bin", d / "stories260K.bin");
  const Checkpoint ck = Checkpoint::open(d / "stories260K.bin");
  // Nothing beside it: the error says where it looked and what to pass.
  const std::string msg = error_of([&] { open_tokenizer(ck, std::nullopt); });
  EXPECT_NE(msg.find("tokenizer.bin, tok512.bin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--tokenizer"), std::string::npos) << msg;
  // llama2.c's default name.
  fs::create_symlink(kModels / "tok512.bin", d / "tokenizer.bin");
  EXPECT_EQ(open_tokenizer(ck, std::nullopt)->vocab_size(), 512);
  // And generate needs no --tokenizer.
  const auto r = test_support::run_cli("generate " + (d / "stories260K.bin").string() + " --prompt 'Once upon' -n 8");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Once upon", 0), 0u) << r.out;
}

TEST(TokenizerDiscovery, SafetensorsFileFindsTokenizerJsonBesideIt) {
  const TempDir d("tokfind_st");
  write_bytes(d / "config.json", kConfig);
  write_tensors(d / "model.safetensors", {"model.norm.weight"});
  const Checkpoint ck = Checkpoint::open(d / "model.safetensors");
  const std::string msg = error_of([&] { open_tokenizer(ck, std::nullopt); });
  EXPECT_NE(msg.find("tokenizer.json, tokenizer.model"), std::string::npos) << msg;
  write_bytes(d / "tokenizer.json", test_support::sp_style_tokenizer(false).dump());
  EXPECT_EQ(open_tokenizer(ck, std::nullopt)->vocab_size(), 32);
  EXPECT_EQ(open_tokenizer(Checkpoint::open(d.path), std::nullopt)->vocab_size(), 32);
  // --tokenizer picks the reader by the name: .json.
  EXPECT_EQ(open_tokenizer(ck, d / "tokenizer.json")->bos_id(), 1);
  // A tokenizer larger than the model's vocabulary is the wrong one.
  auto big = test_support::byte_level_tokenizer("llama3", false);
  write_bytes(d / "big.json", big.dump());
  EXPECT_NE(error_of([&] { open_tokenizer(ck, d / "big.json"); }).find("273 tokens but the model's vocabulary has 32"),
            std::string::npos);
}
