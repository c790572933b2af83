// GGUF reader: files written here by a small test-side writer (v1/v2/v3, every
// metadata type, nested arrays, alignments, F32/F16/Q8_0), every malformed
// class from the brief, every truncation of a valid file, and the real files
// in shared/models (the same weights as llama2.c must come out bit-identical).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>
#include <sys/wait.h>

#include "io/checkpoint.hpp"
#include "io/formats.hpp"
#include "io/gguf_format.hpp"
#include "util/error.hpp"
#include "test_support.hpp"

using namespace ctscope;
namespace fs = std::filesystem;
using gguf::ValueType;
using Bytes = std::vector<uint8_t>;

namespace {

using test_support::expect_shape;
using test_support::kModels;
using test_support::kStories260K;
using test_support::write_temp;

template <typename T>
void put(Bytes& b, T v) {
  uint8_t raw[sizeof(T)];
  std::memcpy(raw, &v, sizeof v);
  b.insert(b.end(), raw, raw + sizeof v);
}

// Minimal GGUF writer, independent of the reader: counts and lengths are 32-bit
// in v1 and 64-bit after; tensor data at aligned offsets after the infos.
struct Writer {
  uint32_t version = 3;
  uint64_t alignment = 32;  // layout only; add general.alignment yourself to declare it
  uint64_t n_kv = 0;
  Bytes kv;
  struct Tensor {
    std::string name;
    std::vector<uint64_t> ne;  // ne[0] = row length first, as GGUF stores it
    uint32_t type;
    Bytes data;
    std::optional<uint64_t> offset;  // forced relative offset
  };
  std::vector<Tensor> tensors;
  std::optional<uint64_t> force_n_tensors, force_n_kv;
  std::optional<uint32_t> force_n_dims;

  explicit Writer(uint32_t v = 3) : version(v) {}

  void count(Bytes& b, uint64_t n) const {
    if (version == 1) put<uint32_t>(b, static_cast<uint32_t>(n));
    else put<uint64_t>(b, n);
  }
  void str(Bytes& b, const std::string& s) const {
    count(b, s.size());
    b.insert(b.end(), s.begin(), s.end());
  }
  // One key with a pre-encoded value (type id + payload).
  void raw_kv(const std::string& key, ValueType t, const Bytes& payload) {
    str(kv, key);
    put<uint32_t>(kv, static_cast<uint32_t>(t));
    kv.insert(kv.end(), payload.begin(), payload.end());
    ++n_kv;
  }
  template <typename T>
  void scalar(const std::string& key, ValueType t, T v) {
    Bytes p;
    put<T>(p, v);
    raw_kv(key, t, p);
  }
  void string(const std::string& key, const std::string& s) {
    Bytes p;
    str(p, s);
    raw_kv(key, ValueType::String, p);
  }
  // Encoded array payload: element type, count, then the elements.
  Bytes array(ValueType elem, uint64_t n, const Bytes& elems) const {
    Bytes p;
    put<uint32_t>(p, static_cast<uint32_t>(elem));
    count(p, n);
    p.insert(p.end(), elems.begin(), elems.end());
    return p;
  }
  void tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, Bytes data,
              std::optional<uint64_t> offset = std::nullopt) {
    tensors.push_back({name, std::move(ne), type, std::move(data), offset});
  }

  Bytes build() const {
    Bytes b;
    put<uint32_t>(b, gguf::kMagic);
    put<uint32_t>(b, version);
    count(b, force_n_tensors.value_or(tensors.size()));
    count(b, force_n_kv.value_or(n_kv));
    b.insert(b.end(), kv.begin(), kv.end());
    std::vector<uint64_t> offs;
    uint64_t cur = 0;
    for (const auto& t : tensors) {
      uint64_t off = t.offset.value_or(cur);
      offs.push_back(off);
      if (!t.offset) cur = (off + t.data.size() + alignment - 1) / alignment * alignment;
      str(b, t.name);
      put<uint32_t>(b, force_n_dims.value_or(static_cast<uint32_t>(t.ne.size())));
      for (auto n : t.ne) count(b, n);
      put<uint32_t>(b, t.type);
      put<uint64_t>(b, off);
    }
    const uint64_t start = (b.size() + alignment - 1) / alignment * alignment;
    b.resize(start, 0);
    for (size_t i = 0; i < tensors.size(); ++i) {
      const auto& d = tensors[i].data;
      if (offs[i] > (1u << 20)) continue;  // deliberately out of bounds: no data
      if (b.size() < start + offs[i] + d.size()) b.resize(start + offs[i] + d.size(), 0);
      if (!d.empty()) std::memcpy(b.data() + start + offs[i], d.data(), d.size());  // an empty vector's data() may be null
    }
    return b;
  }
};

Bytes f32_data(size_t n, float scale) {
  Bytes b;
  for (size_t i = 0; i < n; ++i) put<float>(b, scale * static_cast<float>(static_cast<int>(i % 17) - 8));
  return b;
}
Bytes f16_data(size_t n) {  // values k/8, exact in f16
  Bytes b;
  for (size_t i = 0; i < n; ++i) put<uint16_t>(b, f32_to_f16(static_cast<float>(static_cast<int>(i % 13) - 6) / 8.f));
  return b;
}
Bytes q8_0_block(float d, int base) {  // 32 values d * (base + i - 16)
  Bytes b;
  put<uint16_t>(b, f32_to_f16(d));
  for (int i = 0; i < 32; ++i) b.push_back(static_cast<uint8_t>(static_cast<int8_t>(base + i - 16)));
  return b;
}

constexpr uint32_t kF32 = 0, kF16 = 1, kQ8_0 = 8;

// A small valid llama: dim 32, hidden 32, 1 layer, 2 heads, 1 kv head, vocab 2.
Writer llama(uint32_t version) {
  Writer w(version);
  w.string("general.architecture", "llama");
  w.scalar<uint32_t>("llama.embedding_length", ValueType::UInt32, 32);
  w.scalar<uint32_t>("llama.feed_forward_length", ValueType::UInt32, 32);
  w.scalar<uint32_t>("llama.block_count", ValueType::UInt32, 1);
  w.scalar<uint32_t>("llama.attention.head_count", ValueType::UInt32, 2);
  w.scalar<uint32_t>("llama.attention.head_count_kv", ValueType::UInt32, 1);
  w.scalar<uint32_t>("llama.context_length", ValueType::UInt32, 128);
  w.scalar<float>("llama.attention.layer_norm_rms_epsilon", ValueType::Float32, 1e-6f);
  w.scalar<float>("llama.rope.freq_base", ValueType::Float32, 500000.f);
  w.tensor("token_embd.weight", {32, 2}, kF32, f32_data(64, 0.5f));
  w.tensor("blk.0.attn_q.weight", {32, 2}, kF16, f16_data(64));  // not a full model: the reader doesn't demand one
  Bytes q = q8_0_block(0.25f, 0);
  Bytes q2 = q8_0_block(-2.f, 3);
  q.insert(q.end(), q2.begin(), q2.end());
  w.tensor("blk.0.ffn_down.weight", {32, 2}, kQ8_0, q);
  w.tensor("output_norm.weight", {32}, kF32, f32_data(32, 1.f));
  return w;
}

std::string error_of(const fs::path& p) {
  try {
    open_gguf(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

// The Error must name the file and contain `needle`.
void expect_error(const Writer& w, const std::string& name, const std::string& needle) {
  const fs::path p = write_temp(name + ".gguf", w.build());
  const std::string msg = error_of(p);
  EXPECT_EQ(msg.rfind(p.string() + ": ", 0), 0u) << name << ": " << msg;
  EXPECT_NE(msg.find(needle), std::string::npos) << name << ": " << msg;
}

}  // namespace

TEST(Gguf, AllMetadataTypesAndNestedArraysEveryVersion) {
  for (uint32_t v : {1u, 2u, 3u}) {
    SCOPED_TRACE(v);
    Writer w = llama(v);
    w.scalar<uint8_t>("t.u8", ValueType::UInt8, 200);
    w.scalar<int8_t>("t.i8", ValueType::Int8, -100);
    w.scalar<uint16_t>("t.u16", ValueType::UInt16, 60000);
    w.scalar<int16_t>("t.i16", ValueType::Int16, -30000);
    w.scalar<uint32_t>("t.u32", ValueType::UInt32, 4000000000u);
    w.scalar<int32_t>("t.i32", ValueType::Int32, -2000000000);
    w.scalar<float>("t.f32", ValueType::Float32, 0.5f);
    w.scalar<uint8_t>("t.bool", ValueType::Bool, 1);
    w.string("t.str", "h\xc3\xa9llo");
    w.scalar<uint64_t>("t.u64", ValueType::UInt64, (uint64_t{1} << 63) + 5);
    w.scalar<int64_t>("t.i64", ValueType::Int64, -(int64_t{1} << 62));
    w.scalar<double>("t.f64", ValueType::Float64, 3.25);
    Bytes ints;
    for (int32_t x : {1, -2, 3}) put<int32_t>(ints, x);
    w.raw_kv("t.arr_i32", ValueType::Array, w.array(ValueType::Int32, 3, ints));
    Bytes strs;
    w.str(strs, "a");
    w.str(strs, "bc");
    w.raw_kv("t.arr_str", ValueType::Array, w.array(ValueType::String, 2, strs));
    Bytes inner = w.array(ValueType::UInt8, 2, {1, 2});
    Bytes inner2 = w.array(ValueType::UInt8, 1, {3});
    inner.insert(inner.end(), inner2.begin(), inner2.end());
    w.raw_kv("t.nested", ValueType::Array, w.array(ValueType::Array, 2, inner));
    w.raw_kv("t.empty", ValueType::Array, w.array(ValueType::Float64, 0, {}));
    Checkpoint ck = open_gguf(write_temp("types_v" + std::to_string(v) + ".gguf", w.build()));
    const auto& m = ck.gguf_metadata;
    EXPECT_EQ(m.at("t.u8").get<int>(), 200);
    EXPECT_EQ(m.at("t.i8").get<int>(), -100);
    EXPECT_EQ(m.at("t.u16").get<int>(), 60000);
    EXPECT_EQ(m.at("t.i16").get<int>(), -30000);
    EXPECT_EQ(m.at("t.u32").get<uint64_t>(), 4000000000u);
    EXPECT_EQ(m.at("t.i32").get<int64_t>(), -2000000000);
    EXPECT_EQ(m.at("t.f32").get<double>(), 0.5);
    EXPECT_EQ(m.at("t.bool"), true);
    EXPECT_EQ(m.at("t.str").get<std::string>(), "h\xc3\xa9llo");
    EXPECT_EQ(m.at("t.u64").get<uint64_t>(), (uint64_t{1} << 63) + 5);
    EXPECT_EQ(m.at("t.i64").get<int64_t>(), -(int64_t{1} << 62));
    EXPECT_EQ(m.at("t.f64").get<double>(), 3.25);
    EXPECT_EQ(m.at("t.arr_i32"), nlohmann::json({1, -2, 3}));
    EXPECT_EQ(m.at("t.arr_str"), nlohmann::json({"a", "bc"}));
    EXPECT_EQ(m.at("t.nested"), nlohmann::json::parse("[[1,2],[3]]"));
    EXPECT_EQ(m.at("t.empty"), nlohmann::json::array());
  }
}

TEST(Gguf, TensorsConfigAndAlignment) {
  for (uint32_t v : {1u, 2u, 3u}) {
    for (uint64_t align : {uint64_t{32}, uint64_t{256}}) {
      SCOPED_TRACE(fmt::format("v{} align {}", v, align));
      Writer w = llama(v);
      w.alignment = align;
      if (align != 32) w.scalar<uint32_t>("general.alignment", ValueType::UInt32, static_cast<uint32_t>(align));
      Checkpoint ck = open_gguf(write_temp(fmt::format("t_v{}_{}.gguf", v, align), w.build()));
      EXPECT_EQ(ck.format, Format::Gguf);
      const auto& c = ck.config;
      expect_shape(c, {.dim = 32, .hidden_dim = 32, .n_layers = 1, .n_heads = 2, .n_kv_heads = 1, .vocab_size = 2,
                       .max_seq_len = 128});
      EXPECT_EQ(c.norm_eps, 1e-6);  // shortest decimal of the float
      EXPECT_EQ(c.rope_theta, 500000.0);
      EXPECT_EQ(c.rope, RopeLayout::Interleaved);
      EXPECT_TRUE(c.tie_embeddings);

      ASSERT_EQ(ck.tensors.size(), 5u);  // 4 + the output.weight alias
      for (const auto& t : ck.tensors) EXPECT_EQ(t.offset % align, 0u) << t.name;
      const TensorInfo* emb = ck.find(-1, Role::EmbedTokens);
      ASSERT_NE(emb, nullptr);
      EXPECT_EQ(emb->shape, (std::vector<int64_t>{2, 32}));
      auto e = ck.read_f32(*emb);
      for (size_t i = 0; i < e.size(); ++i) ASSERT_EQ(e[i], 0.5f * static_cast<float>(static_cast<int>(i % 17) - 8));
      const TensorInfo* q = ck.find(0, Role::QProj);
      ASSERT_NE(q, nullptr);
      EXPECT_EQ(q->dtype, DType::F16);
      auto qv = ck.read_f32(*q);
      for (size_t i = 0; i < qv.size(); ++i) ASSERT_EQ(qv[i], static_cast<float>(static_cast<int>(i % 13) - 6) / 8.f);
      const TensorInfo* d = ck.find(0, Role::DownProj);
      ASSERT_NE(d, nullptr);
      EXPECT_EQ(d->dtype, DType::Q8_0);
      EXPECT_EQ(d->nbytes, 68u);
      auto dv = ck.read_f32(*d);
      for (int i = 0; i < 32; ++i) {
        ASSERT_EQ(dv[static_cast<size_t>(i)], 0.25f * static_cast<float>(i - 16));
        ASSERT_EQ(dv[static_cast<size_t>(32 + i)], -2.f * static_cast<float>(3 + i - 16));
      }
      const TensorInfo* out = ck.find(-1, Role::LmHead);
      ASSERT_NE(out, nullptr);
      EXPECT_EQ(out->alias_of, "token_embd.weight");
      EXPECT_EQ(out->offset, emb->offset);
      EXPECT_EQ(ck.total_params(), 64u + 64u + 64u + 32u);
    }
  }
}

TEST(Gguf, ConfigKeysDefaultsAndVocabulary) {
  Writer w(3);
  w.string("general.architecture", "llama");
  w.scalar<uint64_t>("llama.embedding_length", ValueType::UInt64, 32);
  w.scalar<int32_t>("llama.feed_forward_length", ValueType::Int32, 64);
  w.scalar<uint16_t>("llama.block_count", ValueType::UInt16, 2);
  w.scalar<int64_t>("llama.attention.head_count", ValueType::Int64, 4);
  w.scalar<uint32_t>("llama.rope.freq_base", ValueType::UInt32, 10000);  // integer accepted
  w.scalar<int32_t>("tokenizer.ggml.bos_token_id", ValueType::Int32, 0);
  w.scalar<uint32_t>("tokenizer.ggml.eos_token_id", ValueType::UInt32, 1);
  w.string("tokenizer.ggml.model", "llama");
  Bytes toks, scores, types;
  for (const char* s : {"<s>", "</s>", "a"}) w.str(toks, s);
  for (float s : {0.f, -1.f, -2.5f}) put<float>(scores, s);
  for (int32_t t : {3, 3, 1}) put<int32_t>(types, t);
  w.raw_kv("tokenizer.ggml.tokens", ValueType::Array, w.array(ValueType::String, 3, toks));
  w.raw_kv("tokenizer.ggml.scores", ValueType::Array, w.array(ValueType::Float32, 3, scores));
  w.raw_kv("tokenizer.ggml.token_type", ValueType::Array, w.array(ValueType::Int32, 3, types));
  w.tensor("token_embd.weight", {32, 3}, kF32, f32_data(96, 1.f));
  w.tensor("output.weight", {32, 3}, kF32, f32_data(96, 2.f));  // differs: untied
  Checkpoint ck = open_gguf(write_temp("cfg.gguf", w.build()));
  const auto& c = ck.config;
  EXPECT_EQ(c.n_kv_heads, 4);  // defaults to head_count
  EXPECT_EQ(c.hidden_dim, 64);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.max_seq_len, 2048);  // ModelConfig's default when the key is absent
  EXPECT_EQ(c.bos_id, 0);
  EXPECT_EQ(c.eos_id, 1);
  EXPECT_EQ(c.vocab_size, 3);
  EXPECT_FALSE(c.tie_embeddings);
  EXPECT_TRUE(ck.find("output.weight")->alias_of.empty());
  EXPECT_EQ(ck.total_params(), 192u);
  ASSERT_TRUE(ck.vocab.has_value());
  EXPECT_EQ(ck.vocab->model, "llama");
  EXPECT_EQ(ck.vocab->tokens, (std::vector<std::string>{"<s>", "</s>", "a"}));
  EXPECT_EQ(ck.vocab->scores, (std::vector<float>{0.f, -1.f, -2.5f}));
  EXPECT_EQ(ck.vocab->token_types, (std::vector<int32_t>{3, 3, 1}));
  EXPECT_FALSE(ck.gguf_metadata.contains("tokenizer.ggml.tokens"));  // moved into vocab
}

TEST(Gguf, MalformedFilesGiveErrorNamingTheFile) {
  {
    Writer w = llama(3);
    w.force_n_tensors = 100000;  // under the limit, but not in this file's bytes
    expect_error(w, "tensor_count", "tensor count 100000 cannot fit");
  }
  {
    Writer w = llama(3);
    w.force_n_kv = 100000;
    expect_error(w, "kv_count", "metadata count 100000 cannot fit");
  }
  {
    Writer w = llama(2);
    Bytes p;
    put<uint64_t>(p, 1000);
    p.resize(p.size() + 16, 'x');
    w.raw_kv("t.str", ValueType::String, p);
    expect_error(w, "string_len", "truncated: t.str needs 1000 bytes");
  }
  {
    Writer w = llama(3);
    Bytes p;
    put<uint32_t>(p, static_cast<uint32_t>(ValueType::UInt8));
    put<uint64_t>(p, uint64_t{1} << 60);
    w.raw_kv("t.arr", ValueType::Array, p);
    expect_error(w, "array_len", "metadata t.arr array count 1152921504606846976 cannot fit");
  }
  {
    Writer w = llama(3);
    Bytes p = w.array(ValueType::UInt8, 1, {7});
    for (int i = 0; i < 9; ++i) p = w.array(ValueType::Array, 1, p);
    w.raw_kv("t.deep", ValueType::Array, p);
    expect_error(w, "deep", "nested deeper than");
  }
  {
    Writer w = llama(3);
    w.scalar<uint8_t>("t.bad", static_cast<ValueType>(13), 0);
    expect_error(w, "value_type", "unknown value type 13");
  }
  {
    Writer w = llama(3);
    w.force_n_dims = 5;
    expect_error(w, "n_dims", "n_dims 5 outside 1..4");
  }
  {
    Writer w = llama(3);
    w.tensor("blk.0.attn_k.weight", {32, 1}, 99, Bytes(32));
    expect_error(w, "unknown_type", "tensor blk.0.attn_k.weight: unsupported ggml type id 99");
  }
  {
    Writer w = llama(3);
    w.tensor("blk.0.attn_k.weight", {16, 1}, kQ8_0, Bytes(18));
    expect_error(w, "block_row", "row length 16 is not a multiple of the Q8_0 block size 32");
  }
  {
    Writer w = llama(3);
    w.tensor("blk.0.attn_k.weight", {8}, kF32, Bytes(32), 1000);
    expect_error(w, "misaligned", "offset 1000 is not a multiple of the alignment 32");
  }
  {
    Writer w = llama(3);
    w.tensor("blk.0.attn_k.weight", {8}, kF32, Bytes(32), uint64_t{1} << 30);
    expect_error(w, "out_of_bounds", "tensor blk.0.attn_k.weight: data [1073741824, +32) lies outside the file");
  }
  {
    Writer w = llama(3);
    w.tensor("blk.0.attn_k.weight", {8}, kF32, Bytes(32), uint64_t{0xFFFFFFFFFFFFFFE0});
    expect_error(w, "offset_overflow", "lies outside the file");
  }
  {
    Writer w = llama(3);
    w.tensor("blk.0.attn_k.weight", {8}, kF32, Bytes(32), 32);  // inside token_embd [0, 256)
    expect_error(w, "overlap", "overlap");
  }
  {
    Writer w = llama(3);
    w.tensor("token_embd.weight", {32, 2}, kF32, f32_data(64, 1.f));
    expect_error(w, "dup_tensor", "duplicate tensor name token_embd.weight");
  }
  {
    Writer w = llama(3);
    w.string("general.architecture", "llama");
    expect_error(w, "dup_key", "duplicate metadata key general.architecture");
  }
  for (uint32_t a : {0u, 3u, 48u}) {
    Writer w = llama(3);
    w.scalar<uint32_t>("general.alignment", ValueType::UInt32, a);
    expect_error(w, "alignment" + std::to_string(a), "is not a nonzero power of two");
  }
  {
    Bytes b = llama(3).build();
    b[0] = 'X';
    const fs::path p = write_temp("magic.gguf", b);
    EXPECT_NE(error_of(p).find(p.string() + ": not a GGUF file (bad magic)"), std::string::npos);
  }
  for (uint32_t ver : {0u, 4u, 0x03000000u}) {
    Bytes b = llama(3).build();
    std::memcpy(b.data() + 4, &ver, 4);
    const fs::path p = write_temp("version.gguf", b);
    EXPECT_NE(error_of(p).find(p.string() + ": unsupported GGUF version " + std::to_string(ver)), std::string::npos)
        << error_of(p);
  }
  {
    Writer w(3);
    w.string("general.architecture", "llama");
    w.scalar<uint32_t>("llama.embedding_length", ValueType::UInt32, 32);
    w.scalar<uint32_t>("llama.block_count", ValueType::UInt32, 1);
    w.scalar<uint32_t>("llama.attention.head_count", ValueType::UInt32, 2);
    w.tensor("token_embd.weight", {32, 2}, kF32, f32_data(64, 1.f));
    expect_error(w, "missing_key", "missing metadata key llama.feed_forward_length");
  }
  {
    Writer w(3);
    w.string("general.architecture", "gpt2");
    expect_error(w, "arch", "unsupported architecture \"gpt2\"");
  }
  {
    Writer w = llama(3);
    w.tensors.erase(w.tensors.begin());
    expect_error(w, "no_embd", "missing tensor token_embd.weight");
  }
}

TEST(Gguf, EveryTruncationIsAnError) {
  for (uint32_t v : {1u, 3u}) {
    Writer w = llama(v);
    Bytes s;
    w.str(s, "x");
    w.raw_kv("t.arr_str", ValueType::Array, w.array(ValueType::String, 1, s));
    const Bytes full = w.build();
    const fs::path p = write_temp("cut.gguf", full);
    ASSERT_NO_THROW(open_gguf(p));
    for (size_t n = full.size(); n-- > 0;) {  // shrink in place: one file, no rewrite per cut
      fs::resize_file(p, n);
      const std::string msg = error_of(p);
      ASSERT_EQ(msg.rfind(p.string() + ": ", 0), 0u) << "v" << v << " cut at " << n << ": " << msg;
    }
  }
}

TEST(Gguf, RealV1MatchesLlama2cBitForBit) {
  const fs::path gp = kModels / "tinyllamas-stories-260k-f32.gguf", bp = kModels / "stories260K.bin";
  if (!fs::exists(gp) || !fs::exists(bp)) GTEST_SKIP() << "shared models missing in " << kModels;
  Checkpoint g = Checkpoint::open(gp), b = Checkpoint::open(bp);
  EXPECT_EQ(g.format, Format::Gguf);
  EXPECT_EQ(g.gguf_metadata.at("general.architecture"), "llama");
  for (const Checkpoint* ck : {&g, &b}) {
    const auto& c = ck->config;
    expect_shape(c, kStories260K);
    EXPECT_EQ(c.rope, RopeLayout::Interleaved);
    EXPECT_TRUE(c.tie_embeddings);
    EXPECT_EQ(c.norm_eps, 1e-5);
    EXPECT_EQ(c.rope_theta, 10000.0);
  }
  EXPECT_EQ(g.total_params(), b.total_params());
  EXPECT_EQ(g.total_params(), 260032u);
  ASSERT_TRUE(g.vocab.has_value());
  EXPECT_EQ(g.vocab->tokens.size(), 512u);
  // Every tensor of the llama2.c file, under the same (layer, role), bit-identical.
  int compared = 0;
  for (const auto& tb : b.tensors) {
    const TensorInfo* tg = g.find(tb.layer, tb.role);
    ASSERT_NE(tg, nullptr) << tb.name;
    ASSERT_EQ(tg->shape, tb.shape) << tb.name;
    auto vg = g.read_f32(*tg), vb = b.read_f32(tb);
    EXPECT_EQ(std::memcmp(vg.data(), vb.data(), vg.size() * sizeof(float)), 0) << tb.name << " vs " << tg->name;
    ++compared;
  }
  EXPECT_EQ(compared, 48);
  EXPECT_EQ(g.tensors.size(), b.tensors.size());
}

TEST(Gguf, RealV3TinyRandomF16) {
  const fs::path p = kModels / "llama-2-tiny-random.gguf";
  if (!fs::exists(p)) GTEST_SKIP() << "shared model missing: " << p;
  Checkpoint ck = Checkpoint::open(p);
  expect_shape(ck.config, {.dim = 8, .hidden_dim = 32, .n_layers = 1, .n_heads = 2, .vocab_size = 32000});
  ASSERT_TRUE(ck.vocab.has_value());
  EXPECT_EQ(ck.vocab->tokens.size(), 32000u);
  int matrices = 0;
  for (const auto& t : ck.tensors) {
    if (!t.is_matrix()) {
      EXPECT_EQ(t.dtype, DType::F32) << t.name;
      continue;
    }
    EXPECT_EQ(t.dtype, DType::F16) << t.name;
    ++matrices;
    auto v = ck.read_f32(t);
    double s = 0, s2 = 0;
    for (float x : v) {
      ASSERT_TRUE(std::isfinite(x)) << t.name;
      s += x;
      s2 += static_cast<double>(x) * x;
    }
    const double n = static_cast<double>(v.size()), mean = s / n, sd = std::sqrt(s2 / n - mean * mean);
    EXPECT_NEAR(sd, 0.02, 0.006) << t.name;
    EXPECT_LT(std::abs(mean), 0.01) << t.name;
  }
  EXPECT_EQ(matrices, 9);  // 7 per layer + token_embd + output
}

TEST(Gguf, CliInspectTruncatedExitsTwoWithOneLine) {
  Bytes full = llama(3).build();
  const fs::path p = write_temp("cli_cut.gguf", Bytes(full.begin(), full.begin() + 100));
  const std::string cmd = std::string(CTSCOPE_BINARY) + " inspect '" + p.string() + "' 2>&1 >/dev/null";
  FILE* f = ::popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  const int status = ::pclose(f);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find(p.string()), std::string::npos) << out;
  EXPECT_NE(out.find("truncated"), std::string::npos) << out;
}

TEST(Gguf, NamesLongerThanAnyCheckpointHasAreRefusedQuotingOnlyTheirStart) {
  Writer w = llama(3);
  w.tensor(std::string(5000, 't'), {32}, kF32, f32_data(32, 1.f));
  expect_error(w, "long_tensor_name", "a tensor name of 5000 bytes is over the limit of 1024");
  Writer k = llama(2);
  k.string(std::string(2000, 'k'), "v");
  expect_error(k, "long_key", "a metadata key of 2000 bytes is over the limit of 1024");
  for (const auto* wr : {&w, &k}) {
    const fs::path p = write_temp("long_names.gguf", wr->build());
    EXPECT_LT(error_of(p).size(), 300u);
  }
}

// util/resource_limits: counts, lengths and dimensions no real file has are
// refused as over the limit (naming the file, the claim and the limit) before
// the file's own size is consulted.
TEST(Gguf, ClaimsOverTheResourceLimitsAreRefused) {
  {
    Writer w = llama(3);
    w.force_n_tensors = uint64_t{1} << 60;
    expect_error(w, "limit_tensors", "tensor count 1152921504606846976 is over the limit of 1000000");
  }
  {
    Writer w = llama(1);  // 32-bit counts
    w.force_n_kv = 2000000;
    expect_error(w, "limit_kv", "metadata count 2000000 is over the limit of 1000000");
  }
  {
    Writer w = llama(2);
    Bytes p;
    put<uint64_t>(p, uint64_t{1} << 40);
    p.resize(p.size() + 16, 'x');
    w.raw_kv("t.str", ValueType::String, p);
    expect_error(w, "limit_string", "t.str length 1099511627776 is over the limit of 67108864");
  }
  {
    Writer w = llama(3);  // an empty tensor: no bytes bound its other dimension
    w.tensor("empty", {uint64_t{1} << 40, 0}, kF32, Bytes{});
    expect_error(w, "limit_dim", "tensor empty: dimension 1099511627776 is over the limit of 2147483647");
  }
}

TEST(Gguf, AnEmptyEmbeddingSurvivesCompressAndInspect) {
  // What ctscope writes, ctscope reads: a GGUF whose token_embd holds no rows
  // (a damaged but readable file) either compresses to a file inspect accepts,
  // or is refused in one line; never a .ct.safetensors that ctscope rejects.
  Writer w(3);
  Writer full = llama(3);
  w.kv = full.kv;
  w.n_kv = full.n_kv;
  w.tensor("token_embd.weight", {32, 0}, kF32, {});
  w.tensor("blk.0.attn_q.weight", {32, 2}, kF32, f32_data(64, 0.5f));
  w.tensor("output_norm.weight", {32}, kF32, f32_data(32, 1.f));
  test_support::TempDir tmp("empty_embd");
  const fs::path src = tmp / "empty_embd.gguf";
  test_support::write_bytes(src, w.build());
  const fs::path out = tmp / "e.ct.safetensors";
  const auto c = test_support::run_cli("compress " + src.string() + " -o " + out.string() + " --K 4 -q");
  if (c.code != 0) {
    EXPECT_EQ(c.code, 2) << c.err;
    EXPECT_EQ(std::count(c.err.begin(), c.err.end(), '\n'), 1) << c.err;
    EXPECT_FALSE(fs::exists(out));
    return;
  }
  const auto i = test_support::run_cli("inspect " + out.string() + " -q");
  EXPECT_EQ(i.code, 0) << i.err;
}

TEST(Gguf, NonUtf8TensorNameIsShownNotFatal) {
  // GGUF names are raw bytes: `inspect --json` replaces a bad byte with U+FFFD
  // instead of ending in an internal error.
  Writer w = llama(3);
  w.tensor(std::string("blk.0.bad\xff\xfe.weight"), {32}, kF32, f32_data(32, 1.f));
  const fs::path p = write_temp("non_utf8.gguf", w.build());
  const auto r = test_support::run_cli("inspect " + p.string() + " --json -");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  bool found = false;
  for (const auto& t : j["tensor_list"]) found = found || t["name"] == "blk.0.bad\xEF\xBF\xBD\xEF\xBF\xBD.weight";
  EXPECT_TRUE(found) << r.out.substr(0, 2000);
}
