// Core pieces every reader relies on: dtype conversion, roles, atomic files.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "io/dtype.hpp"
#include "model/roles.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "test_support.hpp"

using namespace ctscope;

TEST(DType, Bf16RoundTripAndRounding) {
  for (float f : {0.f, 1.f, -2.5f, 3.14159f, 1e-20f, 65504.f}) {
    uint16_t h = f32_to_bf16(f);
    EXPECT_NEAR(bf16_to_f32(h), f, std::abs(f) / 128.f) << f;
  }
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

TEST(DType, F16AllValuesRoundTrip) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_f16(f), h) << std::hex << h;
  }
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
}

TEST(DType, BytesChecksBlocksAndOverflow) {
  EXPECT_EQ(dtype_bytes(DType::BF16, 10), 20u);
  EXPECT_EQ(dtype_bytes(DType::Q8_0, 64), 68u);
  EXPECT_FALSE(dtype_bytes(DType::Q4_K, 100).has_value());
  EXPECT_FALSE(dtype_bytes(DType::F64, UINT64_MAX / 2).has_value());
  EXPECT_EQ(dtype_from_name("BF16"), DType::BF16);
  EXPECT_FALSE(dtype_from_name("F7").has_value());
}

TEST(DType, ConvertQ8_0) {
  uint8_t block[34];
  uint16_t scale = f32_to_f16(0.5f);
  std::memcpy(block, &scale, 2);
  for (int i = 0; i < 32; ++i) block[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(i - 16));
  float out[32];
  convert_to_f32(DType::Q8_0, block, 32, out);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(out[i], 0.5f * static_cast<float>(i - 16));
}

TEST(DType, ConvertQ4_0) {
  uint8_t block[18];
  uint16_t scale = f32_to_f16(2.0f);
  std::memcpy(block, &scale, 2);
  for (int i = 0; i < 16; ++i) block[2 + i] = static_cast<uint8_t>((i & 0xf) | ((15 - i) << 4));
  float out[32];
  convert_to_f32(DType::Q4_0, block, 32, out);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(out[i], 2.0f * static_cast<float>(i - 8));
    EXPECT_EQ(out[i + 16], 2.0f * static_cast<float>(15 - i - 8));
  }
}

TEST(DType, ConvertQ4_K) {
  // d = 1, dmin = 0.5; sub-block j has scale j+1 and min j (all < 16, so the
  // 6-bit packing puts them in the low bits of bytes 0..3/4..7 and nibbles of 8..11).
  uint8_t b[144] = {};
  uint16_t d = f32_to_f16(1.0f), dmin = f32_to_f16(0.5f);
  std::memcpy(b, &d, 2);
  std::memcpy(b + 2, &dmin, 2);
  uint8_t* sc = b + 4;
  for (int j = 0; j < 4; ++j) { sc[j] = static_cast<uint8_t>(j + 1); sc[j + 4] = static_cast<uint8_t>(j); }
  for (int j = 4; j < 8; ++j) sc[j + 4] = static_cast<uint8_t>((j + 1) | (j << 4));
  for (int l = 0; l < 128; ++l) b[16 + l] = static_cast<uint8_t>((l % 16) | ((15 - l % 16) << 4));
  float out[256];
  convert_to_f32(DType::Q4_K, b, 256, out);
  for (int i = 0; i < 256; ++i) {
    const int sub = i / 32, chunk = i / 64, l = i % 32;
    const uint8_t byte = b[16 + chunk * 32 + l];
    const int q = (sub % 2 == 0) ? (byte & 0xf) : (byte >> 4);
    EXPECT_EQ(out[i], 1.0f * static_cast<float>(sub + 1) * static_cast<float>(q) - 0.5f * static_cast<float>(sub)) << i;
  }
}

TEST(Roles, AllThreeNamingSchemesAgree) {
  auto hf = classify_tensor("model.layers.7.mlp.down_proj.weight");
  auto gg = classify_tensor("blk.7.ffn_down.weight");
  auto meta = classify_tensor("layers.7.feed_forward.w2.weight");
  for (auto r : {hf, gg, meta}) {
    EXPECT_EQ(r.layer, 7);
    EXPECT_EQ(r.role, Role::DownProj);
  }
  EXPECT_EQ(classify_tensor("token_embd.weight").role, Role::EmbedTokens);
  EXPECT_EQ(classify_tensor("output.weight").role, Role::LmHead);
  EXPECT_EQ(classify_tensor("lm_head.weight").layer, -1);
  EXPECT_EQ(classify_tensor("blk.x.attn_q.weight").role, Role::Other);
  EXPECT_EQ(hf_tensor_name(3, Role::QProj), "model.layers.3.self_attn.q_proj.weight");
  EXPECT_EQ(hf_tensor_name(0, Role::PostAttentionLayernorm), "model.layers.0.post_attention_layernorm.weight");
  EXPECT_EQ(classify_tensor(hf_tensor_name(0, Role::PostAttentionLayernorm)).role, Role::PostAttentionLayernorm);
}

TEST(AtomicFile, NoPartialFileOnError) {
  const test_support::TempDir tmp("atomic");
  const auto& dir = tmp.path;
  auto target = dir / "out.json";
  std::filesystem::remove(target);
  {
    AtomicFile f(target);
    f.write("partial");
    // destroyed without commit, as when an exception unwinds
  }
  EXPECT_FALSE(std::filesystem::exists(target));
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  write_file_atomic(target, "done");
  std::ifstream in(target);
  std::string s;
  in >> s;
  EXPECT_EQ(s, "done");
  EXPECT_THROW(check_writable("/nonexistent-dir/x.json"), Error);
}

TEST(AtomicFile, DirectoryAppearsWholeOrNotAtAll) {
  const test_support::TempDir tmp("atomic_dir");
  const auto target = tmp / "ck";
  {
    AtomicDir d(target);
    write_file_atomic(d.tmp() / "a.txt", "new");
    // destroyed without commit
  }
  EXPECT_TRUE(std::filesystem::is_empty(tmp.path)) << "the temporary directory must be gone";
  std::filesystem::create_directories(target);
  write_file_atomic(target / "old.txt", "old");
  {
    AtomicDir d(target);
    write_file_atomic(d.tmp() / "a.txt", "new");
    EXPECT_TRUE(std::filesystem::exists(target / "old.txt")) << "the old directory stays until commit";
    d.commit();
  }
  EXPECT_TRUE(std::filesystem::exists(target / "a.txt"));
  EXPECT_FALSE(std::filesystem::exists(target / "old.txt"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(tmp.path), {}), 1) << "no .tmp or .old left";

  write_file_atomic(tmp / "file", "x");
  EXPECT_THROW(AtomicDir(tmp / "file" / "ck"), Error) << "a parent that is a file";
}
