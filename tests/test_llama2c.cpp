// llama2.c legacy reader: the real stories260K.bin, synthetic files with a
// separate classifier, and malformed sizes/headers that must give Error.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "io/checkpoint.hpp"
#include "io/formats.hpp"
#include "util/error.hpp"
#include "test_support.hpp"

using namespace ctscope;
namespace fs = std::filesystem;

namespace {

using test_support::expect_shape;
using test_support::kModels;
using test_support::kStories260K;
using test_support::slurp;
using test_support::write_temp;

// Expects open_llama2c to throw an Error whose message names the file and contains `needle`.
void expect_error(const fs::path& p, const std::string& needle) {
  try {
    open_llama2c(p);
    ADD_FAILURE() << "no Error for " << p;
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  }
}

// A synthetic llama2.c file; values are index-coded so a wrong offset shows.
std::vector<char> synth(int32_t dim, int32_t hidden, int32_t layers, int32_t heads, int32_t kv_heads,
                        int32_t vocab, int32_t seq, std::vector<float>* floats_out = nullptr) {
  const int32_t v = vocab < 0 ? -vocab : vocab;
  const int64_t kv_dim = dim / heads * kv_heads, hs = dim / heads;
  int64_t n = int64_t{v} * dim + layers * (2 * dim + 2 * dim * dim + 2 * kv_dim * dim + 3 * int64_t{hidden} * dim) +
              dim + 2 * seq * (hs / 2) + (vocab < 0 ? int64_t{v} * dim : 0);
  std::vector<float> f(static_cast<size_t>(n));
  for (size_t i = 0; i < f.size(); ++i) f[i] = static_cast<float>(i) * 0.25f;
  int32_t h[7] = {dim, hidden, layers, heads, kv_heads, vocab, seq};
  std::vector<char> out(sizeof h + f.size() * 4);
  std::memcpy(out.data(), h, sizeof h);
  std::memcpy(out.data() + sizeof h, f.data(), f.size() * 4);
  if (floats_out) *floats_out = f;
  return out;
}

}  // namespace

TEST(Llama2c, Stories260KConfigAndTensors) {
  const fs::path p = kModels / "stories260K.bin";
  if (!fs::exists(p)) GTEST_SKIP() << "shared model missing: " << p;
  Checkpoint ck = Checkpoint::open(p);
  EXPECT_EQ(ck.format, Format::Llama2c);
  const auto& c = ck.config;
  expect_shape(c, kStories260K);
  EXPECT_TRUE(c.tie_embeddings);
  EXPECT_EQ(c.rope, RopeLayout::Interleaved);
  EXPECT_EQ(ck.tensors.size(), 1u + 9u * 5u + 1u + 1u);
  // 512*64 + 5*(2*64 + 2*64*64 + 2*32*64 + 3*172*64) + 64
  EXPECT_EQ(ck.total_params(), 32768u + 5u * (128u + 8192u + 4096u + 33024u) + 64u);

  const TensorInfo* out = ck.find(-1, Role::LmHead);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->alias_of, "tok_embeddings.weight");
  // Independent offset arithmetic: layer 1 wk starts after embeddings, 5 attention
  // norms, 5 wq and 1 wk.
  const TensorInfo* wk1 = ck.find(1, Role::KProj);
  ASSERT_NE(wk1, nullptr);
  ASSERT_EQ(wk1->shape, (std::vector<int64_t>{32, 64}));
  const uint64_t off = 28 + 4 * (512 * 64 + 5 * 64 + 5 * 64 * 64 + 32 * 64);
  EXPECT_EQ(wk1->offset, off);
  auto raw = slurp(p);
  std::vector<float> expect(32 * 64);
  std::memcpy(expect.data(), raw.data() + off, expect.size() * 4);
  auto got = ck.read_f32(*wk1);
  EXPECT_EQ(std::memcmp(got.data(), expect.data(), expect.size() * 4), 0);
  // Final norm sits just before the RoPE tables, which end the file.
  const TensorInfo* norm = ck.find(-1, Role::Norm);
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->offset + norm->nbytes + 2 * 4 * 512 * 4, raw.size());
}

TEST(Llama2c, TruncatedAndExtraByteGiveExpectedVsActual) {
  const fs::path p = kModels / "stories260K.bin";
  if (!fs::exists(p)) GTEST_SKIP() << "shared model missing: " << p;
  auto raw = slurp(p);
  const std::string full = std::to_string(raw.size());
  auto cut = raw;
  cut.resize(raw.size() - 1);
  expect_error(write_temp("truncated.bin", cut), "implies " + full + " bytes, file has " + std::to_string(cut.size()));
  auto extra = raw;
  extra.push_back(0);
  expect_error(write_temp("extra.bin", extra), "implies " + full + " bytes, file has " + std::to_string(extra.size()));
  expect_error(write_temp("tiny.bin", std::vector<char>(raw.begin(), raw.begin() + 10)), "too small");
}

TEST(Llama2c, SeparateClassifier) {
  std::vector<float> f;
  auto bytes = synth(8, 12, 2, 2, 1, -16, 4, &f);
  Checkpoint ck = open_llama2c(write_temp("sep.bin", bytes));
  EXPECT_FALSE(ck.config.tie_embeddings);
  EXPECT_EQ(ck.config.vocab_size, 16);
  EXPECT_EQ(ck.config.n_kv_heads, 1);
  const TensorInfo* out = ck.find("output.weight");
  ASSERT_NE(out, nullptr);
  EXPECT_TRUE(out->alias_of.empty());
  EXPECT_EQ(out->role, Role::LmHead);
  ASSERT_EQ(out->shape, (std::vector<int64_t>{16, 8}));
  auto w = ck.read_f32(*out);
  // wcls is the last 16*8 floats of the file.
  for (size_t i = 0; i < w.size(); ++i) ASSERT_EQ(w[i], f[f.size() - w.size() + i]) << i;
  // total counts wcls separately: embeddings + wcls + layers + norm.
  EXPECT_EQ(ck.total_params(), 2u * 128u + 2u * (16u + 128u + 2u * 32u + 3u * 96u) + 8u);
  // Down projection of layer 1 ([8, 12]) and its first value, from independent offsets.
  const TensorInfo* w2 = ck.find(1, Role::DownProj);
  ASSERT_NE(w2, nullptr);
  EXPECT_EQ(w2->shape, (std::vector<int64_t>{8, 12}));
  const size_t idx = 128 + 2 * 8 + 2 * 64 + 2 * 32 + 2 * 32 + 2 * 64 + 2 * 8 + 2 * 96 + 96;
  EXPECT_EQ(ck.read_f32(*w2)[0], f[idx]);
}

TEST(Llama2c, BadHeaders) {
  auto good = synth(8, 12, 2, 2, 1, 16, 4);
  EXPECT_NO_THROW(open_llama2c(write_temp("good.bin", good)));
  auto patch = [&](int field, int32_t v) {
    auto b = good;
    std::memcpy(b.data() + 4 * field, &v, 4);
    return write_temp("bad" + std::to_string(field) + ".bin", b);
  };
  expect_error(patch(0, 0), "dim must be positive");
  expect_error(patch(2, -1), "n_layers must be positive");
  expect_error(patch(3, 3), "not divisible by n_heads");
  expect_error(patch(4, 3), "not divisible by n_kv_heads");
  expect_error(patch(5, 0), "vocab_size must be positive");
  expect_error(patch(5, INT32_MIN), "file size mismatch");
  // Huge but valid-looking headers overflow 64 bits or imply absurd sizes: clean Error.
  auto huge = good;
  int32_t big[7] = {INT32_MAX - 3, INT32_MAX, INT32_MAX, 2, 1, INT32_MAX, INT32_MAX};
  std::memcpy(huge.data(), big, sizeof big);
  expect_error(write_temp("huge.bin", huge), "more than 2^64");
  auto ak42 = good;
  uint32_t magic = 0x616b3432;
  std::memcpy(ak42.data(), &magic, 4);
  expect_error(write_temp("ak42.bin", ak42), "only the legacy");
}
