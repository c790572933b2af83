// GGUF writing: the block formats against values built here independently
// (hand-made blocks with known bytes -> known floats; a naive per-element
// re-implementation of the quantizers compared byte for byte), the writer
// read back by the reader (metadata, shapes, dequantized values within each
// format's error bound), and synth --format gguf end to end (llama.cpp's names
// and q/k row order, the fallbacks, inspect).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "io/checkpoint.hpp"
#include "io/dtype.hpp"
#include "io/gguf_writer.hpp"
#include "io/quantize.hpp"
#include "synth/synth.hpp"
#include "util/error.hpp"
#include "test_support.hpp"

using namespace ctscope;
namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

using test_support::TempDir;

std::vector<float> dequantize(DType t, const Bytes& b, size_t n) {
  std::vector<float> y(n);
  convert_to_f32(t, b.data(), n, y.data());
  return y;
}

Bytes quantize(DType t, const std::vector<float>& x) {
  Bytes b(*dtype_bytes(t, x.size()));
  quantize_from_f32(t, x.data(), x.size(), b.data());
  return b;
}

std::vector<float> gaussian(size_t n, uint64_t seed, float scale = 0.02f) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> x(n);
  for (auto& v : x) v = nd(g);
  return x;
}

void put_f16(Bytes& b, size_t at, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(b.data() + at, &h, 2);
}
float f16_round(float v) { return f16_to_f32(f32_to_f16(v)); }

}  // namespace

// --- Known bytes -> known floats ------------------------------------------

TEST(GgufBlocks, Q4_0KnownBlock) {
  Bytes b(18);
  put_f16(b, 0, 0.5f);
  for (int i = 0; i < 16; ++i) b[2 + i] = static_cast<uint8_t>(i | (15 - i) << 4);  // low: i, high: 15 - i
  const auto y = dequantize(DType::Q4_0, b, 32);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(y[i], 0.5f * static_cast<float>(i - 8)) << i;
    EXPECT_EQ(y[16 + i], 0.5f * static_cast<float>(7 - i)) << i;
  }
}

TEST(GgufBlocks, Q4_KKnownBlock) {
  // d = 0.25, dmin = 0.125; scales 3, 11, ..., 59 and mins 63, 56, ..., 14
  // (six bits each, so the top two bits of j >= 4 are exercised); nibble of
  // element e = e % 16.
  int sc[8], mn[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = 8 * j + 3;
    mn[j] = 63 - 7 * j;
  }
  Bytes b(144, 0);
  put_f16(b, 0, 0.25f);
  put_f16(b, 2, 0.125f);
  // The 12 bytes as llama.cpp lays them out, written byte by byte:
  // bytes 0-3: sc[0..3] in bits 0-5, top bits of sc[4..7] in bits 6-7;
  // bytes 4-7: mn[0..3] in bits 0-5, top bits of mn[4..7] in bits 6-7;
  // bytes 8-11: low 4 bits of sc[4..7] | low 4 bits of mn[4..7] << 4.
  for (int i = 0; i < 4; ++i) {
    b[4 + i] = static_cast<uint8_t>(sc[i] | (sc[i + 4] >> 4) << 6);
    b[8 + i] = static_cast<uint8_t>(mn[i] | (mn[i + 4] >> 4) << 6);
    b[12 + i] = static_cast<uint8_t>((sc[i + 4] & 15) | (mn[i + 4] & 15) << 4);
  }
  // Nibbles: 4 chunks of 64 values in 32 bytes each, low nibble = first 32.
  auto nib = [](int e) { return e % 16; };
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) b[16 + 32 * c + l] = static_cast<uint8_t>(nib(64 * c + l) | nib(64 * c + 32 + l) << 4);
  const auto y = dequantize(DType::Q4_K, b, 256);
  for (int e = 0; e < 256; ++e) {
    const int j = e / 32;
    const double want = 0.25 * sc[j] * nib(e) - 0.125 * mn[j];
    EXPECT_EQ(y[e], static_cast<float>(want)) << "element " << e;
  }
}

// --- Naive re-implementations, byte for byte --------------------------------

namespace {

// llama.cpp's Q8_0, element by element.
Bytes naive_q8_0(const float* x) {
  Bytes b(34);
  double amax = 0;
  for (int i = 0; i < 32; ++i) amax = std::max(amax, static_cast<double>(std::fabs(x[i])));
  const float d = static_cast<float>(amax) / 127.f;
  put_f16(b, 0, d);
  for (int i = 0; i < 32; ++i) {
    const float v = d == 0 ? 0.f : x[i] * (1.f / d);
    b[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(v < 0 ? -std::floor(-v + 0.5f) : std::floor(v + 0.5f)));
  }
  return b;
}

// llama.cpp's Q4_0: the signed extreme becomes -8.
Bytes naive_q4_0(const float* x) {
  Bytes b(18, 0);
  int at = 0;
  for (int i = 1; i < 32; ++i)
    if (std::fabs(x[i]) > std::fabs(x[at])) at = i;
  const float d = x[at] / -8.f, id = d == 0 ? 0.f : 1.f / d;
  put_f16(b, 0, d);
  for (int i = 0; i < 32; ++i) {
    const int q = std::min(15, static_cast<int>(std::floor(x[i] * id + 8.5f)));
    b[2 + i % 16] |= static_cast<uint8_t>(i < 16 ? q : q << 4);
  }
  return b;
}

// The documented Q4_K choice: per sub-block scale (max - min(0, min)) / 15 and
// min -min(0, min), both rounded to 6 bits against the largest in the block.
Bytes naive_q4_k(const float* x) {
  Bytes b(144, 0);
  float s[8], m[8], smax = 0, mmax = 0;
  for (int j = 0; j < 8; ++j) {
    float lo = 0, hi = x[32 * j];
    for (int i = 0; i < 32; ++i) {
      lo = std::min(lo, x[32 * j + i]);
      hi = std::max(hi, x[32 * j + i]);
    }
    s[j] = (hi - lo) / 15.f;
    m[j] = -lo;
    smax = std::max(smax, s[j]);
    mmax = std::max(mmax, m[j]);
  }
  int ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = smax > 0 ? std::min(63, static_cast<int>(std::lround(63.f / smax * s[j]))) : 0;
    lm[j] = mmax > 0 ? std::min(63, static_cast<int>(std::lround(63.f / mmax * m[j]))) : 0;
  }
  put_f16(b, 0, smax / 63.f);
  put_f16(b, 2, mmax / 63.f);
  for (int i = 0; i < 4; ++i) {
    b[4 + i] = static_cast<uint8_t>(ls[i] | (ls[i + 4] >> 4) << 6);
    b[8 + i] = static_cast<uint8_t>(lm[i] | (lm[i + 4] >> 4) << 6);
    b[12 + i] = static_cast<uint8_t>((ls[i + 4] & 15) | (lm[i + 4] & 15) << 4);
  }
  const float d = f16_round(smax / 63.f), dmin = f16_round(mmax / 63.f);
  for (int e = 0; e < 256; ++e) {
    const int j = e / 32;
    const float dj = d * static_cast<float>(ls[j]), mj = dmin * static_cast<float>(lm[j]);
    const int q = dj == 0 ? 0 : std::clamp(static_cast<int>(std::lround((x[e] + mj) / dj)), 0, 15);
    const int chunk = e / 64, within = e % 64;
    b[16 + 32 * chunk + within % 32] |= static_cast<uint8_t>(within < 32 ? q : q << 4);
  }
  return b;
}

}  // namespace

TEST(GgufBlocks, QuantizersMatchNaiveReimplementation) {
  auto x = gaussian(1024, 7);
  x[5] = 0.3f;     // a positive extreme (Q4_0's d < 0)
  x[300] = -0.25f;
  std::fill(x.begin() + 512, x.begin() + 544, 0.f);  // an all-zero block
  for (int i = 768; i < 800; ++i) x[static_cast<size_t>(i)] = std::fabs(x[static_cast<size_t>(i)]) + 0.01f;  // min > 0
  const auto q8 = quantize(DType::Q8_0, x), q4 = quantize(DType::Q4_0, x), qk = quantize(DType::Q4_K, x);
  for (size_t blk = 0; blk < 32; ++blk) {
    const Bytes a = naive_q8_0(x.data() + 32 * blk), c = naive_q4_0(x.data() + 32 * blk);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), q8.begin() + static_cast<long>(34 * blk))) << "Q8_0 block " << blk;
    EXPECT_TRUE(std::equal(c.begin(), c.end(), q4.begin() + static_cast<long>(18 * blk))) << "Q4_0 block " << blk;
  }
  for (size_t blk = 0; blk < 4; ++blk) {
    const Bytes k = naive_q4_k(x.data() + 256 * blk);
    EXPECT_TRUE(std::equal(k.begin(), k.end(), qk.begin() + static_cast<long>(144 * blk))) << "Q4_K block " << blk;
  }
}

// --- Error bounds -------------------------------------------------------------

namespace {

// Largest |x - dequantized| each format allows, per element, from the
// originals alone (f16 rounding of the scales is the 2^-11 terms).
std::vector<double> error_bounds(DType t, const std::vector<float>& x) {
  std::vector<double> bound(x.size());
  const size_t B = traits(t).block_elems;
  for (size_t b0 = 0; b0 < x.size(); b0 += B) {
    double amax = 0;
    for (size_t i = b0; i < b0 + B; ++i) amax = std::max(amax, std::fabs(static_cast<double>(x[i])));
    if (t == DType::Q8_0) std::fill_n(bound.begin() + static_cast<long>(b0), B, (0.5 + 127.0 / 2048) * amax / 127);
    if (t == DType::Q4_0) std::fill_n(bound.begin() + static_cast<long>(b0), B, (1.0 + 8.0 / 2048) * amax / 8);
    if (t == DType::Q4_K) {
      // Per sub-block: half a step of its own scale, or what rounding the
      // scale and min to 6 bits can push the top of the range by
      // (15 half-steps of D = max scale / 63, half a step of max min / 63).
      double s[8], smax = 0, mmax = 0;
      for (size_t j = 0; j < 8; ++j) {
        double lo = 0, hi = -1e30;
        for (size_t i = 0; i < 32; ++i) {
          lo = std::min(lo, static_cast<double>(x[b0 + 32 * j + i]));
          hi = std::max(hi, static_cast<double>(x[b0 + 32 * j + i]));
        }
        s[j] = (hi - lo) / 15;
        smax = std::max(smax, s[j]);
        mmax = std::max(mmax, -lo);
      }
      const double D = smax / 63, M = mmax / 63;
      for (size_t j = 0; j < 8; ++j)
        std::fill_n(bound.begin() + static_cast<long>(b0 + 32 * j), 32,
                    std::max(0.5 * s[j] + 0.3 * D, 8.1 * D + 0.55 * M) * 1.0001 + 1e-9);
    }
  }
  return bound;
}

void expect_within_bounds(DType t, const std::vector<float>& x, const std::vector<float>& y) {
  const auto bound = error_bounds(t, x);
  size_t bad = 0;
  for (size_t i = 0; i < x.size(); ++i)
    if (std::fabs(static_cast<double>(x[i]) - y[i]) > bound[i] && bad++ < 5)
      ADD_FAILURE() << dtype_name(t) << " element " << i << ": " << x[i] << " -> " << y[i] << " (bound " << bound[i]
                    << ")";
}

}  // namespace

TEST(GgufBlocks, RoundTripWithinEachFormatsBound) {
  auto x = gaussian(4096, 11);
  for (size_t i = 0; i < x.size(); i += 97) x[i] *= 6;  // outliers, as trained weights have
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_K}) {
    SCOPED_TRACE(std::string(dtype_name(t)));
    const auto y = dequantize(t, quantize(t, x), x.size());
    expect_within_bounds(t, x, y);
  }
}

// --- The writer read back ------------------------------------------------------

TEST(GgufWriter, ReaderSeesMetadataShapesAndValues) {
  TempDir dir("ggufw");
  const fs::path p = dir / "m.gguf";
  const auto emb = gaussian(4 * 256, 1), q = gaussian(256 * 256, 2), dn = gaussian(256 * 64, 3);
  const std::vector<float> norm(256, 1.5f);
  const std::vector<GgufKeyValue> meta{
      {"general.architecture", GgufValue::str("llama")},
      {"llama.embedding_length", GgufValue::u32(256)},
      {"llama.feed_forward_length", GgufValue::u32(64)},
      {"llama.block_count", GgufValue::u32(1)},
      {"llama.attention.head_count", GgufValue::u32(4)},
      {"llama.attention.head_count_kv", GgufValue::u32(2)},
      {"llama.rope.freq_base", GgufValue::f32(500000.f)},
      {"general.flag", {gguf::ValueType::Bool, true}},
      {"general.offset", {gguf::ValueType::Int64, int64_t{-5}}},
      {"tokenizer.ggml.model", GgufValue::str("llama")},
      {"tokenizer.ggml.tokens", GgufValue::strings({"<unk>", "<s>", "</s>", "a"})},
      {"tokenizer.ggml.scores", GgufValue::floats({0.f, 0.f, 0.f, -1.5f})},
      {"tokenizer.ggml.token_type", GgufValue::ints({2, 3, 3, 1})},
  };
  {
    GgufWriter w(p, meta,
                 {{"token_embd.weight", DType::Q8_0, {4, 256}},  // [rows, cols], as TensorInfo
                  {"blk.0.attn_q.weight", DType::Q4_K, {256, 256}},
                  {"blk.0.ffn_down.weight", DType::Q4_0, {256, 64}},
                  {"output_norm.weight", DType::F32, {256}}});
    auto qb = quantize(DType::Q8_0, emb);
    w.write("token_embd.weight", qb.data(), qb.size() / 2);  // in two pieces
    w.write("token_embd.weight", qb.data() + qb.size() / 2, qb.size() - qb.size() / 2);
    qb = quantize(DType::Q4_K, q);
    EXPECT_THROW(w.write("blk.0.ffn_down.weight", qb.data(), 1), Error);  // out of order
    w.write("blk.0.attn_q.weight", qb.data(), qb.size());
    qb = quantize(DType::Q4_0, dn);
    w.write("blk.0.ffn_down.weight", qb.data(), qb.size());
    w.write("output_norm.weight", norm.data(), norm.size() * 4);
    EXPECT_EQ(w.bytes_written(), w.file_size());
    w.commit();
  }
  const Checkpoint ck = Checkpoint::open(p);
  EXPECT_EQ(ck.format, Format::Gguf);
  test_support::expect_shape(ck.config, {256, 64, 1, 4, 2, 4, -1});
  EXPECT_EQ(ck.config.rope_theta, 500000.0);
  EXPECT_EQ(ck.gguf_metadata.at("general.flag"), true);
  EXPECT_EQ(ck.gguf_metadata.at("general.offset"), -5);
  ASSERT_TRUE(ck.vocab.has_value());
  EXPECT_EQ(ck.vocab->tokens, (std::vector<std::string>{"<unk>", "<s>", "</s>", "a"}));
  EXPECT_EQ(ck.vocab->scores.back(), -1.5f);
  EXPECT_EQ(ck.vocab->token_types, (std::vector<int32_t>{2, 3, 3, 1}));
  struct Want {
    const char* name;
    DType t;
    std::vector<int64_t> shape;
    const std::vector<float>* x;
  };
  for (const Want& wt : {Want{"token_embd.weight", DType::Q8_0, {4, 256}, &emb},
                         Want{"blk.0.attn_q.weight", DType::Q4_K, {256, 256}, &q},
                         Want{"blk.0.ffn_down.weight", DType::Q4_0, {256, 64}, &dn}}) {
    SCOPED_TRACE(wt.name);
    const TensorInfo* t = ck.find(wt.name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, wt.t);
    EXPECT_EQ(t->shape, wt.shape);
    EXPECT_EQ(t->offset % 32, 0u);
    expect_within_bounds(wt.t, *wt.x, ck.read_f32(*t));
  }
  EXPECT_EQ(ck.read_f32(*ck.find("output_norm.weight")), norm);
}

TEST(GgufWriter, RefusesIncompleteTensorsAndLeavesNoFile) {
  TempDir dir("ggufw");
  const fs::path p = dir / "m.gguf";
  {
    GgufWriter w(p, {{"general.architecture", GgufValue::str("llama")}}, {{"x", DType::F32, {8}}});
    const float half[4] = {};
    w.write("x", half, sizeof half);
    EXPECT_THROW(w.commit(), Error);
  }
  EXPECT_FALSE(fs::exists(p));
  EXPECT_THROW(GgufWriter(p, {}, {{"x", DType::Q4_K, {2, 100}}}), Error);  // rows are not whole blocks
}

// --- synth --format gguf ----------------------------------------------------------

namespace {

SynthResult synth_to(const fs::path& out, const std::string& preset, SynthFormat f, DType t) {
  SynthOptions o;
  o.preset = preset;
  o.format = f;
  o.dtype = t;
  o.force = true;
  return synth_checkpoint(out, o);
}

}  // namespace

// The same preset and seed as F32 safetensors and as GGUF: llama.cpp's names,
// q/k rows in Meta's order, every matrix within its format's bound of the
// originals, norms exact; shapes and config identical.
TEST(SynthGguf, SameWeightsAsSafetensorsInLlamaCppLayout) {
  TempDir dir("synthgguf");
  synth_to(dir / "ref", "small", SynthFormat::Safetensors, DType::F32);
  const Checkpoint ref = Checkpoint::open(dir / "ref");
  for (DType t : {DType::Q4_K, DType::Q8_0, DType::F16}) {
    SCOPED_TRACE(std::string(dtype_name(t)));
    const fs::path p = dir / "m.gguf";
    const SynthResult r = synth_to(p, "small", SynthFormat::Gguf, t);
    EXPECT_EQ(r.bytes, fs::file_size(p));
    const Checkpoint ck = Checkpoint::open(p);
    EXPECT_EQ(ck.config.dim, ref.config.dim);
    EXPECT_EQ(ck.config.hidden_dim, ref.config.hidden_dim);
    EXPECT_EQ(ck.config.n_layers, ref.config.n_layers);
    EXPECT_EQ(ck.config.n_heads, ref.config.n_heads);
    EXPECT_EQ(ck.config.n_kv_heads, ref.config.n_kv_heads);
    EXPECT_EQ(ck.config.vocab_size, ref.config.vocab_size);
    EXPECT_EQ(ck.config.max_seq_len, ref.config.max_seq_len);
    EXPECT_EQ(ck.gguf_metadata.at("llama.rope.dimension_count"), ref.config.head_dim());
    EXPECT_EQ(ck.total_params(), ref.total_params());
    const int64_t hd = ref.config.head_dim();
    for (const auto& rt : ref.tensors) {
      const TensorInfo* gt = ck.find(rt.layer, rt.role);
      ASSERT_NE(gt, nullptr) << rt.name;
      EXPECT_EQ(gt->shape, rt.shape) << rt.name;
      auto x = ref.read_f32(rt);
      if (rt.role == Role::QProj || rt.role == Role::KProj) {  // HF -> Meta: Meta row (h, 2i + j) = HF (h, j hd/2 + i)
        std::vector<float> meta(x.size());
        const auto cols = static_cast<size_t>(rt.cols());
        for (int64_t row = 0; row < rt.rows(); ++row) {
          const int64_t h = row / hd, k = row % hd, hf = h * hd + (k % 2) * (hd / 2) + k / 2;
          std::copy_n(x.begin() + static_cast<long>(static_cast<size_t>(hf) * cols), cols,
                      meta.begin() + static_cast<long>(static_cast<size_t>(row) * cols));
        }
        x = meta;
      }
      const auto y = ck.read_f32(*gt);
      if (!rt.is_matrix()) {
        EXPECT_EQ(gt->dtype, DType::F32) << gt->name;
        EXPECT_EQ(y, x) << gt->name;
      } else if (gt->dtype == DType::F16) {
        for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y[i], f16_round(x[i])) << gt->name << " " << i;
      } else {
        EXPECT_EQ(gt->dtype, t) << gt->name;
        expect_within_bounds(gt->dtype, x, y);
      }
    }
    // small: rows of 688 (down_proj) are not whole Q4_K or Q8_0 blocks: F16, as llama-quantize falls back.
    EXPECT_EQ(ck.find("blk.0.ffn_down.weight")->dtype, DType::F16);
    EXPECT_EQ(ck.find("blk.0.attn_q.weight")->dtype, t);
  }
}

TEST(SynthGguf, CliWritesAndInspectShowsIt) {
  TempDir dir("synthgguf");
  const fs::path p = dir / "tiny-q4.gguf";
  auto r = test_support::run_cli("synth " + p.string() + " --preset tiny --quant q4_0");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Q4_0"), std::string::npos) << r.out;
  r = test_support::run_cli("inspect " + p.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("gguf"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Q4_0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("blk.3.ffn_up.weight"), std::string::npos) << r.out;
  r = test_support::run_cli("synth " + (dir / "d").string() + " --preset tiny --quant q4_k");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--quant"), std::string::npos) << r.err;
}
