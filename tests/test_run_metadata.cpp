// Every JSON result says what computed it and from what: the tool version and
// git commit, absolute input paths with fingerprints (size, mtime, FNV-1a of
// the first and last MiB), every setting including the seed, and units.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "report/run_metadata.hpp"
#include "util/error.hpp"
#include "util/file_fingerprint.hpp"
#include "util/version.hpp"
#include "test_support.hpp"

using namespace ctscope;
namespace fs = std::filesystem;
using test_support::kModels;
using test_support::run_cli;
using test_support::slurp;

namespace {

// FNV-1a 64 written out again, byte by byte, from its definition.
uint64_t reference_fnv(const std::string& s) {
  uint64_t h = 14695981039346656037ULL;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
  return h;
}

nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(std::ifstream(p)); }

// The checks every command's result shares.
void expect_tool(const nlohmann::json& j) {
  EXPECT_EQ(j["tool"]["name"], "ctscope");
  EXPECT_EQ(j["tool"]["version"], version_string());
  EXPECT_FALSE(j["tool"]["version"].get<std::string>().empty());
  EXPECT_EQ(j["tool"]["git_commit"], git_commit());
}

void expect_input(const nlohmann::json& in, const fs::path& file) {
  ASSERT_TRUE(in.is_object()) << in;
  const std::string abs = fs::absolute(file).lexically_normal().string();
  EXPECT_EQ(in["path"], abs);
  EXPECT_TRUE(fs::path(in["path"].get<std::string>()).is_absolute());
  ASSERT_EQ(in["files"].size(), 1u);
  const auto& f = in["files"][0];
  EXPECT_EQ(f["path"], abs);
  EXPECT_EQ(f["size_bytes"], fs::file_size(file));
  EXPECT_EQ(f["fnv1a64"], hex64(fingerprint_file(file).fnv1a64));
  EXPECT_EQ(f["fnv1a64"].get<std::string>().size(), 16u);
  EXPECT_EQ(f["mtime_utc"].get<std::string>().back(), 'Z');
}

}  // namespace

TEST(RunMetadata, Fnv1aKnownValues) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);       // the published FNV-1a test vectors
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
  EXPECT_EQ(fnv1a64("bar", fnv1a64("foo")), fnv1a64("foobar"));  // continues across pieces
  EXPECT_EQ(hex64(0xabcULL), "0000000000000abc");
}

TEST(RunMetadata, FingerprintHashesHeadAndTailAndFollowsEdits) {
  test_support::TempDir tmp("fingerprint");
  const fs::path small = tmp / "small.bin";
  test_support::write_bytes(small, std::string_view("hello, weights"));
  auto f = fingerprint_file(small);
  EXPECT_EQ(f.size_bytes, 14u);
  EXPECT_EQ(f.hashed_bytes, 14u);
  EXPECT_EQ(f.fnv1a64, reference_fnv("hello, weights"));
  EXPECT_EQ(f.path, fs::absolute(small).string());

  // 3 MiB: the first and the last MiB are hashed, the middle MiB is not.
  const size_t mib = 1 << 20;
  std::string big(3 * mib, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  const fs::path p = tmp / "big.bin";
  test_support::write_bytes(p, big);
  f = fingerprint_file(p);
  EXPECT_EQ(f.hashed_bytes, 2 * mib);
  EXPECT_EQ(f.fnv1a64, reference_fnv(big.substr(0, mib) + big.substr(2 * mib)));
  const auto before = f;
  for (size_t at : {size_t{10}, 3 * mib - 1}) {  // an edit in the head or in the tail changes the hash
    std::string edited = big;
    edited[at] ^= 1;
    test_support::write_bytes(p, edited);
    EXPECT_NE(fingerprint_file(p).fnv1a64, before.fnv1a64) << at;
  }
  test_support::write_bytes(p, big);
  fs::last_write_time(p, fs::file_time_type::clock::now() - std::chrono::hours(24));
  f = fingerprint_file(p);
  EXPECT_EQ(f.fnv1a64, before.fnv1a64);
  EXPECT_NE(f.mtime_utc, before.mtime_utc);  // same bytes, other time: the mtime tells
  EXPECT_THROW(fingerprint_file(tmp / "missing"), Error);
}

TEST(RunMetadata, VersionAndCommit) {
  EXPECT_FALSE(std::string(version_string()).empty());
  // Built from a git checkout (this test tree is one): the commit is known.
  if (fs::exists(fs::path(CTSCOPE_SOURCE_DIR) / ".git")) {
    EXPECT_FALSE(std::string(git_commit()).empty());
    EXPECT_NE(version_line().find(git_commit()), std::string::npos);
  }
}

TEST(RunMetadata, DirectoryInputListsItsFiles) {
  test_support::TempDir tmp("dirinput");
  test_support::write_bytes(tmp / "b.safetensors", std::string_view("bb"));
  test_support::write_bytes(tmp / "a.json", std::string_view("{}"));
  fs::create_directories(tmp / "sub");
  const auto j = report::input_json(tmp.path);
  EXPECT_EQ(j["path"], fs::absolute(tmp.path).lexically_normal().string());
  ASSERT_EQ(j["files"].size(), 2u);  // regular files only, by name
  EXPECT_EQ(j["files"][0]["path"], (tmp / "a.json").string());
  EXPECT_EQ(j["files"][1]["size_bytes"], 2);
}

TEST(RunMetadata, AnalyzeJsonRecordsToolInputsSettingsAndUnits) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  test_support::TempDir tmp("meta_analyze");
  const fs::path model = kModels / "stories260K.bin";
  auto r = run_cli("analyze " + model.string() + " --K 8 --basis gaussian,random --seed 1234 --role q_proj --quiet "
                   "--json " + (tmp / "a.json").string());
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = read_json(tmp / "a.json");
  expect_tool(j);
  expect_input(j["model"], model);
  EXPECT_EQ(j["model"]["format"], "llama2c");  // the schema's keys stay
  EXPECT_EQ(j["model"]["total_params"], 260032);
  EXPECT_EQ(j["settings"]["seed"], 1234);
  EXPECT_EQ(j["settings"]["K"], nlohmann::json({8}));
  EXPECT_EQ(j["settings"]["bases"], nlohmann::json({"gaussian", "random"}));
  EXPECT_TRUE(j["settings"]["svd_baseline"].get<bool>());
  EXPECT_EQ(j["settings"]["selection_options"]["roles"], nlohmann::json({"q_proj"}));
  EXPECT_NE(j["units"]["r2"].get<std::string>().find("fraction"), std::string::npos);
  EXPECT_EQ(j["units"]["wall_s"], "seconds");
  EXPECT_EQ(j["units"]["peak_rss_mb"], "MiB (2^20 bytes)");
}

TEST(RunMetadata, InspectJsonFingerprintChangesWithTheFile) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  test_support::TempDir tmp("meta_inspect");
  const fs::path copy = tmp / "m.bin";
  fs::copy_file(kModels / "stories260K.bin", copy);
  fs::permissions(copy, fs::perms::owner_read | fs::perms::owner_write);
  auto inspect = [&](const std::string& name) {
    auto r = run_cli("inspect " + copy.string() + " --json " + (tmp / name).string());
    EXPECT_EQ(r.code, 0) << r.err;
    return read_json(tmp / name);
  };
  const auto a = inspect("a.json");
  expect_tool(a);
  expect_input(a, copy);
  EXPECT_EQ(a["format"], "llama2c");
  EXPECT_EQ(a["units"]["total_bytes"], "bytes");
  // The last weight changes (the file stays a valid model): the hash follows.
  std::string bytes = slurp(copy);
  bytes[bytes.size() - 1] ^= 0x10;
  test_support::write_bytes(copy, bytes);
  const auto b = inspect("b.json");
  EXPECT_EQ(b["files"][0]["size_bytes"], a["files"][0]["size_bytes"]);
  EXPECT_NE(b["files"][0]["fnv1a64"], a["files"][0]["fnv1a64"]);
}

TEST(RunMetadata, EvalAndEvalCompressionJsonNameModelTokenizerAndText) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  CTSCOPE_REQUIRE_MODEL("tok512.bin");
  test_support::TempDir tmp("meta_eval");
  const fs::path model = kModels / "stories260K.bin", tok = kModels / "tok512.bin";
  const fs::path text = fs::path(CTSCOPE_SOURCE_DIR) / "tests/data/story.txt";
  const std::string common = " --tokenizer " + tok.string() + " --text " + text.string() + " --ctx 64";

  auto r = run_cli("eval " + model.string() + common + " --ref " + model.string() + " --json " +
                   (tmp / "e.json").string());
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = read_json(tmp / "e.json");
  expect_tool(j);
  expect_input(j["model"], model);
  expect_input(j["inputs"]["tokenizer"], tok);
  expect_input(j["inputs"]["text"], text);
  expect_input(j["inputs"]["reference"], model);
  EXPECT_TRUE(j["inputs"]["text_ids"].is_null());
  EXPECT_EQ(j["settings"]["ctx"], 64);
  EXPECT_EQ(j["ctx"], 64);  // the spec's keys stay where they were
  EXPECT_TRUE(j.contains("ppl") && j.contains("kl_mean"));
  EXPECT_NE(j["units"]["kl_mean"].get<std::string>().find("nats"), std::string::npos);
  EXPECT_NE(j["units"]["ppl"].get<std::string>().find("nats"), std::string::npos);

  r = run_cli("eval-compression " + model.string() + common + " --K 8 --basis gaussian --seed 77 --max-chunks 1 "
              "--json " + (tmp / "ec.json").string());
  ASSERT_EQ(r.code, 0) << r.err;
  j = read_json(tmp / "ec.json");
  expect_tool(j);
  expect_input(j["model"], model);
  EXPECT_EQ(j["model"]["format"], "llama2c");
  EXPECT_EQ(j["model"]["tensors"], 48);
  expect_input(j["inputs"]["tokenizer"], tok);
  expect_input(j["inputs"]["text"], text);
  EXPECT_EQ(j["settings"]["seed"], 77);
  EXPECT_EQ(j["settings"]["K"], nlohmann::json({8}));
  EXPECT_EQ(j["settings"]["bases"], nlohmann::json({"gaussian"}));
  EXPECT_EQ(j["settings"]["ctx"], 64);
  EXPECT_EQ(j["settings"]["max_chunks"], 1);
  EXPECT_FALSE(j["settings"]["selection"].get<std::string>().empty());
  EXPECT_NE(j["units"]["kl_mean"].get<std::string>().find("nats"), std::string::npos);
  EXPECT_FALSE(j["variants"].empty());

  // Without --tokenizer the tokenizer is the model's own, and the JSON says so.
  CTSCOPE_REQUIRE_MODEL("tinyllamas-stories-260k-f32.gguf");
  r = run_cli("eval " + (kModels / "tinyllamas-stories-260k-f32.gguf").string() + " --text " + text.string() +
              " --ctx 64 --json " + (tmp / "g.json").string());
  ASSERT_EQ(r.code, 0) << r.err;
  j = read_json(tmp / "g.json");
  EXPECT_TRUE(j["inputs"]["tokenizer"]["path"].is_null());
  EXPECT_NE(j["inputs"]["tokenizer"]["source"].get<std::string>().find("model's own"), std::string::npos);
}
