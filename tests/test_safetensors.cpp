// safetensors: writer -> reader round trip, and every class of malformed file
// must become an Error that names the file and the problem.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include <unistd.h>

#include "io/checkpoint.hpp"
#include "io/formats.hpp"
#include "io/safetensors_writer.hpp"
#include "util/error.hpp"
#include "test_support.hpp"

using namespace ctscope;
namespace fs = std::filesystem;

namespace {

using TempDir = test_support::TempDir;

using test_support::expect_shape;
using test_support::write_bytes;

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// A file with this header text and `data_len` bytes of data.
std::string raw_file(const std::string& header, size_t data_len) {
  return le64(header.size()) + header + std::string(data_len, '\x11');
}

// Expect Error from opening `file`, whose message names `named` (default: the
// file itself) and contains `what`.
void expect_error(const fs::path& file, const std::string& what, fs::path named = {}) {
  if (named.empty()) named = file;
  try {
    Checkpoint::open(file);
    ADD_FAILURE() << "no error for " << file << " (expected '" << what << "')";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(named.string() + ": "), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << "message: " << msg << "\nexpected to contain: " << what;
  }
}

void expect_header_error(const TempDir& d, const std::string& header, size_t data_len, const std::string& what) {
  auto p = d.path / "bad.safetensors";
  write_bytes(p, raw_file(header, data_len));
  expect_error(p, what);
}

}  // namespace

TEST(Safetensors, RoundTripAllPlainDtypes) {
  TempDir d;
  const std::vector<DType> types{DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32,
                                 DType::I16, DType::I8,  DType::U8,  DType::Bool, DType::F8_E4M3, DType::F8_E5M2};
  std::vector<SafetensorsEntry> entries;
  std::vector<std::string> data;
  std::mt19937_64 rng(7);
  for (size_t i = 0; i < types.size(); ++i) {
    std::vector<int64_t> shape = i % 3 == 0 ? std::vector<int64_t>{3, 5} : std::vector<int64_t>{7};
    if (i == 4) shape = {};        // a scalar
    if (i == 5) shape = {0, 4};    // an empty tensor
    entries.push_back({"t" + std::to_string(i), types[i], shape});
    const size_t n = safetensors_entry_bytes(entries.back(), "test");
    std::string bytes(n, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng() & 0xff);
    data.push_back(bytes);
  }
  const auto file = d.path / "rt.safetensors";
  SafetensorsWriter w(file, entries, {{"format", "pt"}, {"note", "x"}});
  for (size_t i = 0; i < entries.size(); ++i) {
    // Stream the first tensor in two pieces, like row panels.
    if (i == 0) {
      w.write(entries[i].name, data[i].data(), 10);
      w.write(entries[i].name, data[i].data() + 10, data[i].size() - 10);
    } else {
      w.write(entries[i].name, data[i].data(), data[i].size());
    }
  }
  EXPECT_FALSE(fs::exists(file));  // nothing visible before commit
  w.commit();
  EXPECT_EQ(fs::file_size(file), w.file_size());
  EXPECT_EQ(w.bytes_written(), w.file_size());

  auto ck = Checkpoint::open(file);
  EXPECT_EQ(ck.format, Format::Safetensors);
  ASSERT_EQ(ck.tensors.size(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& t = ck.tensors[i];
    EXPECT_EQ(t.name, entries[i].name);
    EXPECT_EQ(t.dtype, entries[i].dtype);
    EXPECT_EQ(t.shape, entries[i].shape);
    auto b = ck.bytes(t);
    ASSERT_EQ(b.size(), data[i].size());
    EXPECT_EQ(0, std::memcmp(b.data(), data[i].data(), b.size())) << t.name;
  }
  EXPECT_EQ(ck.metadata.at("format"), "pt");
  EXPECT_EQ(ck.metadata.at("note"), "x");
  // Header is 8-byte aligned and space padded, like the reference writer.
  std::ifstream in(file, std::ios::binary);
  char len[8];
  in.read(len, 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<unsigned char>(len[i]);
  EXPECT_EQ(n % 8, 0u);
}

TEST(Safetensors, F32ValuesReadBack) {
  TempDir d;
  const auto file = d.path / "v.safetensors";
  std::vector<float> v{1.5f, -2.f, 0.f, 3.25f, 1e-3f, -7.f};
  SafetensorsWriter w(file, {{"model.norm.weight", DType::F32, {2, 3}}});
  w.write("model.norm.weight", v.data(), v.size() * 4);
  w.commit();
  auto ck = Checkpoint::open(file);
  EXPECT_EQ(ck.read_f32(ck.tensors.at(0)), v);
  EXPECT_EQ(ck.tensors[0].role, Role::Norm);
  EXPECT_EQ(ck.tensors[0].offset % 8, 0u);
}

TEST(Safetensors, WriterRejectsMisuse) {
  TempDir d;
  const auto file = d.path / "w.safetensors";
  std::vector<char> buf(64);
  {
    SafetensorsWriter w(file, {{"a", DType::F32, {2}}, {"b", DType::F32, {2}}});
    EXPECT_THROW(w.write("b", buf.data(), 8), Error);   // out of order
    EXPECT_THROW(w.write("a", buf.data(), 12), Error);  // too many bytes
    w.write("a", buf.data(), 8);
    w.write("b", buf.data(), 4);
    EXPECT_THROW(w.commit(), Error);  // b incomplete
  }
  EXPECT_FALSE(fs::exists(file));
  EXPECT_TRUE(fs::is_empty(d.path));  // no temporary left behind
  EXPECT_THROW(SafetensorsWriter(file, {{"a", DType::F32, {2}}, {"a", DType::F32, {2}}}), Error);
  EXPECT_THROW(SafetensorsWriter(file, {{"q", DType::Q8_0, {32}}}), Error);
  EXPECT_THROW(SafetensorsWriter(file, {{"n", DType::F32, {-1}}}), Error);
}

TEST(Safetensors, TruncatedFiles) {
  TempDir d;
  auto p = d.path / "short.safetensors";
  write_bytes(p, "abc");
  expect_error(p, "too short");
  write_bytes(p, le64(100) + "{}");
  expect_error(p, "past the end of the file");
  write_bytes(p, le64(UINT64_MAX) + "{}");  // must not overflow 8 + N
  expect_error(p, "is over the limit");
}

TEST(Safetensors, HeaderTooLarge) {
  TempDir d;
  auto p = d.path / "big.safetensors";
  write_bytes(p, le64(100'000'001) + "{}");
  expect_error(p, "header length 100000001 is over the limit of 100000000");
}

TEST(Safetensors, HeaderNotJsonOrNotObject) {
  TempDir d;
  expect_header_error(d, "{\"a\": [1, 2", 0, "not valid JSON");
  expect_header_error(d, "[1, 2, 3]", 0, "does not start with '{'");
  expect_header_error(d, "{} {}", 0, "not valid JSON");
  expect_header_error(d, "{\"a\": 1}", 0, "tensor 'a': entry is not an object");
}

TEST(Safetensors, MetadataMustBeStringToString) {
  TempDir d;
  expect_header_error(d, R"({"__metadata__": {"a": 1}})", 0, "__metadata__ 'a' is not a string");
  expect_header_error(d, R"({"__metadata__": [1]})", 0, "__metadata__ is not an object");
}

TEST(Safetensors, UnknownDtype) {
  TempDir d;
  expect_header_error(d, R"({"x": {"dtype": "F7", "shape": [2], "data_offsets": [0, 2]}})", 2, "unknown dtype 'F7'");
  expect_header_error(d, R"({"x": {"dtype": "Q8_0", "shape": [32], "data_offsets": [0, 34]}})", 34,
                      "unknown dtype 'Q8_0'");
}

TEST(Safetensors, BadShapes) {
  TempDir d;
  expect_header_error(d, R"({"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4, "non-negative");
  expect_header_error(
      d, R"({"x": {"dtype": "F32", "shape": [2147483647, 2147483647, 2147483647], "data_offsets": [0, 4]}})", 4,
      "overflows");
  // An empty tensor's other dimensions are backed by no bytes: resource_limits bounds them.
  expect_header_error(d, R"({"x": {"dtype": "F32", "shape": [0, 4294967296], "data_offsets": [0, 0]}})", 0,
                      "tensor 'x': dimension 4294967296 is over the limit of 2147483647");
  expect_header_error(d, R"({"x": {"dtype": "F32", "shape": 3, "data_offsets": [0, 4]}})", 4, "'shape'");
}

TEST(Safetensors, ShapeTimesDtypeMustMatchBytes) {
  TempDir d;
  expect_header_error(d, R"({"x": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 10]}})", 10,
                      "tensor 'x': data_offsets [0, 10) hold 10 bytes but shape [2, 3] of BF16 needs 12");
}

TEST(Safetensors, OffsetsOverlap) {
  TempDir d;
  expect_header_error(d,
                      R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                          "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}})",
                      6, "tensor 'b': data_offsets [2, 6) overlap");
}

TEST(Safetensors, OffsetsWithHoleOrNotFromZero) {
  TempDir d;
  expect_header_error(d,
                      R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                          "b": {"dtype": "U8", "shape": [4], "data_offsets": [5, 9]}})",
                      9, "hole");
  expect_header_error(d, R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}})", 6,
                      "begin at 2 but the previous data ends at 0");
  expect_header_error(d, R"({"a": {"dtype": "U8", "shape": [0], "data_offsets": [4, 2]}})", 0,
                      "end before they begin");
}

TEST(Safetensors, OffsetsOutOfBounds) {
  TempDir d;
  expect_header_error(d, R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 8,
                      "run past the end of the data buffer (8 bytes)");
}

TEST(Safetensors, BufferMustEndAtFileEnd) {
  TempDir d;
  expect_header_error(d, R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 12, "trailing bytes");
}

TEST(Safetensors, DuplicateKeyInHeader) {
  TempDir d;
  expect_header_error(d,
                      R"({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                          "a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}})",
                      1, "'a' twice");
}

TEST(Safetensors, EmptyFileIsValid) {
  TempDir d;
  auto p = d.path / "empty.safetensors";
  write_bytes(p, raw_file("{}      ", 0));
  auto ck = Checkpoint::open(p);
  EXPECT_TRUE(ck.tensors.empty());
}

namespace {

const char* kConfig = R"({"model_type": "llama", "hidden_size": 8, "intermediate_size": 16,
  "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 4})";

void write_tensor_file(const fs::path& p, const std::vector<std::string>& names) {
  std::vector<SafetensorsEntry> e;
  for (const auto& n : names) e.push_back({n, DType::F32, {2}});
  SafetensorsWriter w(p, e);
  float v[2] = {1.f, 2.f};
  for (const auto& n : names) w.write(n, v, sizeof v);
  w.commit();
}

}  // namespace

TEST(HfDirectory, SingleFileWithConfig) {
  TempDir d;
  write_bytes(d.path / "config.json", kConfig);
  write_tensor_file(d.path / "model.safetensors", {"model.norm.weight", "model.layers.0.input_layernorm.weight"});
  auto ck = Checkpoint::open(d.path);
  EXPECT_EQ(ck.tensors.size(), 2u);
  EXPECT_EQ(ck.config.dim, 8);
  EXPECT_EQ(ck.config.n_kv_heads, 1);
  EXPECT_EQ(ck.config.rope, RopeLayout::HalfSplit);
  EXPECT_EQ(ck.tensors[1].layer, 0);
}

TEST(HfDirectory, ShardedReadsAllShards) {
  TempDir d;
  write_bytes(d.path / "config.json", kConfig);
  write_tensor_file(d.path / "model-00001-of-00002.safetensors", {"a", "b"});
  write_tensor_file(d.path / "model-00002-of-00002.safetensors", {"c"});
  write_hf_index(d.path, {{"a", "model-00001-of-00002.safetensors"}, {"b", "model-00001-of-00002.safetensors"},
                          {"c", "model-00002-of-00002.safetensors"}}, 24);
  auto ck = Checkpoint::open(d.path);
  ASSERT_EQ(ck.tensors.size(), 3u);
  EXPECT_EQ(ck.files.size(), 2u);
  EXPECT_EQ(ck.tensors[2].name, "c");
  EXPECT_EQ(ck.tensors[2].file, 1);
  EXPECT_EQ(ck.read_f32(ck.tensors[2]), (std::vector<float>{1.f, 2.f}));
}

TEST(HfDirectory, IndexPointsToMissingShard) {
  TempDir d;
  write_bytes(d.path / "config.json", kConfig);
  write_tensor_file(d.path / "s1.safetensors", {"a"});
  write_hf_index(d.path, {{"a", "s1.safetensors"}, {"b", "s2.safetensors"}}, 16);
  expect_error(d.path, "shard 's2.safetensors' is missing", d.path / "model.safetensors.index.json");
}

TEST(HfDirectory, TensorMissingFromItsShard) {
  TempDir d;
  write_bytes(d.path / "config.json", kConfig);
  write_tensor_file(d.path / "s1.safetensors", {"a"});
  write_hf_index(d.path, {{"a", "s1.safetensors"}, {"b", "s1.safetensors"}}, 16);
  try {
    Checkpoint::open(d.path);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("s1.safetensors: tensor 'b'"), std::string::npos) << e.what();
  }
}

TEST(HfDirectory, DuplicateTensorAcrossShards) {
  TempDir d;
  write_bytes(d.path / "config.json", kConfig);
  write_tensor_file(d.path / "s1.safetensors", {"a"});
  write_tensor_file(d.path / "s2.safetensors", {"a", "b"});
  write_hf_index(d.path, {{"a", "s1.safetensors"}, {"b", "s2.safetensors"}}, 16);
  try {
    Checkpoint::open(d.path);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'a' is also in shard 's1.safetensors'"), std::string::npos)
        << e.what();
  }
}

TEST(HfDirectory, ShardOutsideDirectoryRejected) {
  TempDir d;
  write_bytes(d.path / "config.json", kConfig);
  write_hf_index(d.path, {{"a", "../x.safetensors"}}, 8);
  expect_error(d.path, "outside the model directory", d.path / "model.safetensors.index.json");
}

TEST(HfDirectory, ConfigMissingOrInvalid) {
  TempDir d;
  write_tensor_file(d.path / "model.safetensors", {"a"});
  const auto cfg = d.path / "config.json";
  expect_error(d.path, "missing", cfg);
  write_bytes(cfg, "{not json");
  expect_error(d.path, "not valid JSON", cfg);
  write_bytes(cfg, "[1]");
  expect_error(d.path, "not a JSON object", cfg);
  write_bytes(cfg, R"({"model_type": "llama", "hidden_size": 8})");
  expect_error(d.path, "intermediate_size", cfg);
  // A lone file picks up the broken config beside it too.
  expect_error(d.path / "model.safetensors", "intermediate_size", cfg);
}

TEST(HfDirectory, NoWeights) {
  TempDir d;
  write_bytes(d.path / "config.json", kConfig);
  expect_error(d.path, "neither model.safetensors nor");
}

TEST(Safetensors, LoneFileInfersConfig) {
  TempDir d;
  const auto p = d.path / "m.safetensors";
  std::vector<SafetensorsEntry> e{{"model.embed_tokens.weight", DType::BF16, {10, 128}},
                                  {"model.layers.0.self_attn.k_proj.weight", DType::BF16, {64, 128}},
                                  {"model.layers.0.mlp.gate_proj.weight", DType::BF16, {300, 128}},
                                  {"model.layers.2.input_layernorm.weight", DType::BF16, {128}}};
  SafetensorsWriter w(p, e);
  for (const auto& x : e) {
    std::string z(safetensors_entry_bytes(x, "t"), '\0');
    w.write(x.name, z.data(), z.size());
  }
  w.commit();
  auto ck = Checkpoint::open(p);
  expect_shape(ck.config, {.dim = 128, .hidden_dim = 300, .n_layers = 3, .n_heads = 2, .n_kv_heads = 1, .vocab_size = 10});
  EXPECT_TRUE(ck.config.tie_embeddings);
}
