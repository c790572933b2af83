// GGUF (llama.cpp) reader, versions 1-3. Every count, length and offset is
// checked against the bytes that remain before anything is allocated or read,
// so a hostile file gives an Error, never a huge allocation or a stray read.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "io/formats.hpp"
#include "io/gguf_format.hpp"
#include "util/error.hpp"
#include "util/resource_limits.hpp"

namespace ctscope {

namespace {

using nlohmann::json;
using gguf::ValueType;

// Sequential little-endian reads from the map, each bounds-checked.
class Cursor {
 public:
  Cursor(const MappedFile& f, std::string where) : f_(f), where_(std::move(where)) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return f_.size() - pos_; }
  const std::string& where() const { return where_; }
  void set_version(uint32_t v) { v1_ = v == 1; }
  uint32_t count_bytes() const { return v1_ ? 4 : 8; }  // width of counts and lengths

  void need(uint64_t n, const std::string& what) const {
    if (n > remaining())
      fail(where_, "truncated: {} needs {} bytes at offset {}, only {} left", what, n, pos_, remaining());
  }
  template <typename T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, f_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  uint64_t read_count(const std::string& what) {
    return v1_ ? uint64_t{read<uint32_t>(what)} : read<uint64_t>(what);
  }
  std::string read_string(const std::string& what) {
    const uint64_t n = read_count(what + " length");
    limits::check(where_, what + " length", n, limits::kMaxStringBytes, "one GGUF string");
    need(n, what);  // before allocating: a 2^40 length fails here
    std::string s(reinterpret_cast<const char*>(f_.data() + pos_), static_cast<size_t>(n));
    pos_ += n;
    return s;
  }
  // Fails unless `count` items of at least `min_bytes` each could still fit.
  void need_items(uint64_t count, uint64_t min_bytes, const std::string& what) const {
    if (min_bytes != 0 && count > remaining() / min_bytes)
      fail(where_, "{} count {} cannot fit in the {} bytes left at offset {} (truncated or corrupt file)", what, count,
           remaining(), pos_);
  }

 private:
  const MappedFile& f_;
  std::string where_;
  uint64_t pos_ = 0;
  bool v1_ = false;
};

// Smallest encoding of one value of type t (to bound array counts up front).
uint64_t min_value_bytes(ValueType t, const Cursor& c) {
  switch (t) {
    case ValueType::UInt8: case ValueType::Int8: case ValueType::Bool: return 1;
    case ValueType::UInt16: case ValueType::Int16: return 2;
    case ValueType::UInt32: case ValueType::Int32: case ValueType::Float32: return 4;
    case ValueType::UInt64: case ValueType::Int64: case ValueType::Float64: return 8;
    case ValueType::String: return c.count_bytes();
    case ValueType::Array: return 4 + c.count_bytes();
  }
  return 1;
}

// The shortest decimal that round-trips the float, as a double: 1e-5f becomes
// 1e-05 rather than 9.999999747e-06, matching what config.json would say.
double float_to_double(float f) {
  if (!std::isfinite(f)) return static_cast<double>(f);
  const std::string s = fmt::format("{}", f);
  double d = 0;
  std::from_chars(s.data(), s.data() + s.size(), d);
  return d;
}

bool known_type(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::Float64); }

json read_value(Cursor& c, uint32_t type_id, const std::string& key, int depth) {
  if (!known_type(type_id)) fail(c.where(), "metadata {}: unknown value type {}", key, type_id);
  switch (static_cast<ValueType>(type_id)) {
    case ValueType::UInt8: return c.read<uint8_t>(key);
    case ValueType::Int8: return c.read<int8_t>(key);
    case ValueType::UInt16: return c.read<uint16_t>(key);
    case ValueType::Int16: return c.read<int16_t>(key);
    case ValueType::UInt32: return c.read<uint32_t>(key);
    case ValueType::Int32: return c.read<int32_t>(key);
    case ValueType::Float32: return float_to_double(c.read<float>(key));
    case ValueType::Bool: return c.read<uint8_t>(key) != 0;
    case ValueType::String: return c.read_string(key);
    case ValueType::UInt64: return c.read<uint64_t>(key);
    case ValueType::Int64: return c.read<int64_t>(key);
    case ValueType::Float64: return c.read<double>(key);
    case ValueType::Array: {
      if (depth >= gguf::kMaxArrayNesting)
        fail(c.where(), "metadata {}: arrays nested deeper than {}", key, gguf::kMaxArrayNesting);
      const uint32_t elem = c.read<uint32_t>(key + " array type");
      if (!known_type(elem)) fail(c.where(), "metadata {}: unknown array element type {}", key, elem);
      const uint64_t n = c.read_count(key + " array length");
      c.need_items(n, min_value_bytes(static_cast<ValueType>(elem), c), "metadata " + key + " array");
      json arr = json::array();
      for (uint64_t i = 0; i < n; ++i) arr.push_back(read_value(c, elem, key, depth + 1));
      return arr;
    }
  }
  return nullptr;  // unreachable: known_type checked above
}

// Typed lookups in the metadata; `where` names the file in errors.
class Meta {
 public:
  Meta(const json& m, std::string where) : m_(m), where_(std::move(where)) {}

  bool has(const std::string& key) const { return m_.contains(key); }
  int64_t integer(const std::string& key) const {
    if (!has(key)) fail(where_, "missing metadata key {}", key);
    return to_int(key);
  }
  int64_t integer(const std::string& key, int64_t dflt) const { return has(key) ? to_int(key) : dflt; }
  double number(const std::string& key, double dflt) const {
    if (!has(key)) return dflt;
    const json& v = m_.at(key);
    if (!v.is_number()) fail(where_, "metadata {} must be a number", key);
    return v.get<double>();
  }
  std::string string(const std::string& key) const {
    if (!has(key)) fail(where_, "missing metadata key {}", key);
    const json& v = m_.at(key);
    if (!v.is_string()) fail(where_, "metadata {} must be a string", key);
    return v.get<std::string>();
  }

 private:
  int64_t to_int(const std::string& key) const {
    const json& v = m_.at(key);
    if (v.is_number_unsigned()) {
      const auto u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) fail(where_, "metadata {} = {} is too large", key, u);
      return static_cast<int64_t>(u);
    }
    if (v.is_number_integer()) return v.get<int64_t>();
    fail(where_, "metadata {} must be an integer", key);
  }
  const json& m_;
  std::string where_;
};

void read_vocab(Checkpoint& ck, json& meta, const std::string& where) {
  auto take = [&](const char* key) {
    json v;
    if (auto it = meta.find(key); it != meta.end()) {
      v = std::move(*it);
      meta.erase(it);
      if (!v.is_array()) fail(where, "metadata {} must be an array", key);
    }
    return v;
  };
  json tokens = take("tokenizer.ggml.tokens"), scores = take("tokenizer.ggml.scores"),
       types = take("tokenizer.ggml.token_type");
  if (tokens.is_null()) return;
  Vocabulary v;
  if (auto it = meta.find("tokenizer.ggml.model"); it != meta.end() && it->is_string()) v.model = it->get<std::string>();
  v.tokens.reserve(tokens.size());
  for (const auto& t : tokens) {
    if (!t.is_string()) fail(where, "tokenizer.ggml.tokens must hold strings");
    v.tokens.push_back(t.get<std::string>());
  }
  auto check_len = [&](const json& a, const char* key) {
    if (!a.is_null() && a.size() != tokens.size())
      fail(where, "{} has {} entries but tokenizer.ggml.tokens has {}", key, a.size(), tokens.size());
  };
  check_len(scores, "tokenizer.ggml.scores");
  check_len(types, "tokenizer.ggml.token_type");
  for (const auto& s : scores) {
    if (!s.is_number()) fail(where, "tokenizer.ggml.scores must hold numbers");
    v.scores.push_back(s.get<float>());
  }
  for (const auto& t : types) {
    if (!t.is_number_integer()) fail(where, "tokenizer.ggml.token_type must hold integers");
    v.token_types.push_back(t.get<int32_t>());
  }
  ck.vocab = std::move(v);
}

void fill_config(Checkpoint& ck, const std::string& where) {
  const Meta m(ck.gguf_metadata, where);
  const std::string arch = m.string("general.architecture");
  if (arch != "llama") fail(where, "unsupported architecture \"{}\" (only llama)", arch);
  ModelConfig& c = ck.config;
  c.architecture = arch;
  auto positive = [&](const std::string& key, int64_t v) {
    if (v <= 0) fail(where, "metadata {} must be positive, got {}", key, v);
    return v;
  };
  c.dim = positive("llama.embedding_length", m.integer("llama.embedding_length"));
  c.hidden_dim = positive("llama.feed_forward_length", m.integer("llama.feed_forward_length"));
  c.n_layers = positive("llama.block_count", m.integer("llama.block_count"));
  c.n_heads = positive("llama.attention.head_count", m.integer("llama.attention.head_count"));
  c.n_kv_heads = positive("llama.attention.head_count_kv", m.integer("llama.attention.head_count_kv", c.n_heads));
  c.max_seq_len = positive("llama.context_length", m.integer("llama.context_length", c.max_seq_len));
  c.norm_eps = m.number("llama.attention.layer_norm_rms_epsilon", c.norm_eps);
  c.rope_theta = m.number("llama.rope.freq_base", c.rope_theta);
  if (c.dim % c.n_heads != 0) fail(where, "embedding_length {} not divisible by head_count {}", c.dim, c.n_heads);
  if (c.n_heads % c.n_kv_heads != 0)
    fail(where, "head_count {} not divisible by head_count_kv {}", c.n_heads, c.n_kv_heads);
  c.bos_id = m.integer("tokenizer.ggml.bos_token_id", c.bos_id);
  c.eos_id = m.integer("tokenizer.ggml.eos_token_id", c.eos_id);
  c.rope = RopeLayout::Interleaved;  // llama.cpp's converter undoes HF's q/k permutation

  const TensorInfo* emb = ck.find("token_embd.weight");
  if (!emb) fail(where, "missing tensor token_embd.weight");
  if (!emb->is_matrix() || emb->cols() != c.dim)
    fail(where, "token_embd.weight must be [vocab, {}], not {} dims", c.dim, emb->shape.size());
  c.vocab_size = emb->rows();
  if (c.vocab_size <= 0 && ck.vocab) c.vocab_size = static_cast<int64_t>(ck.vocab->tokens.size());
  // Some converters store the tied classifier as a second, identical copy
  // (tinyllamas-stories-260k): treat it as the alias it is, so the parameter
  // count and tie flag agree with the same model in other formats. memcmp
  // stops at the first differing byte, so untied models cost almost nothing.
  for (auto& t : ck.tensors) {
    if (t.name != "output.weight" || t.dtype != emb->dtype || t.shape != emb->shape) continue;
    const auto a = ck.bytes(*emb), b = ck.bytes(t);
    if (std::memcmp(a.data(), b.data(), a.size()) == 0) t.alias_of = emb->name;
  }
  const TensorInfo* out = ck.find("output.weight");
  c.tie_embeddings = out == nullptr || !out->alias_of.empty();
  if (out == nullptr) {
    TensorInfo alias = *emb;  // same bytes, not counted twice
    alias.name = "output.weight";
    alias.alias_of = "token_embd.weight";
    ck.tensors.push_back(std::move(alias));
  }
}

}  // namespace

Checkpoint open_gguf(const std::filesystem::path& file) {
  const std::string where = file.string();
  Checkpoint ck;
  ck.path = file;
  ck.format = Format::Gguf;
  ck.files.push_back(MappedFile::open(where));
  const MappedFile& mf = *ck.files[0];
  Cursor c(mf, where);

  if (c.remaining() < 4 || c.read<uint32_t>("magic") != gguf::kMagic) fail(where, "not a GGUF file (bad magic)");
  const uint32_t version = c.read<uint32_t>("version");
  if (version < gguf::kMinVersion || version > gguf::kMaxVersion) {
    const bool swapped = __builtin_bswap32(version) >= gguf::kMinVersion && __builtin_bswap32(version) <= gguf::kMaxVersion;
    fail(where, "unsupported GGUF version {}{} (supported: 1-3)", version, swapped ? " (big-endian file?)" : "");
  }
  c.set_version(version);
  const uint64_t n_tensors = c.read_count("tensor count");
  const uint64_t n_kv = c.read_count("metadata count");
  limits::check(where, "tensor count", n_tensors, limits::kMaxTensors, "tensors in one file");
  limits::check(where, "metadata count", n_kv, limits::kMaxTensors, "keys in one file, as many as tensors");
  // A key/value needs at least a key length, a type and one byte; a tensor info a
  // name length, n_dims, one dim, a type and an offset.
  c.need_items(n_kv, c.count_bytes() + 4 + 1, "metadata");
  c.need_items(n_tensors, c.count_bytes() + 4 + c.count_bytes() + 4 + 8, "tensor");

  json meta = json::object();
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.read_string(fmt::format("metadata key #{}", i));
    limits::check_name(where, "metadata key", key);
    if (meta.contains(key)) fail(where, "duplicate metadata key {}", key);
    const uint32_t type = c.read<uint32_t>("metadata " + key + " type");
    meta[key] = read_value(c, type, key, 0);
  }

  uint64_t alignment = gguf::kDefaultAlignment;
  if (meta.contains("general.alignment")) {
    const int64_t a = Meta(meta, where).integer("general.alignment");
    if (a <= 0 || (a & (a - 1)) != 0) fail(where, "general.alignment {} is not a nonzero power of two", a);
    alignment = static_cast<uint64_t>(a);
  }

  struct Raw {
    TensorInfo info;
    uint64_t rel_offset;
  };
  std::vector<Raw> raw;
  // No reserve: n_tensors is only bounded by the file size, and a big file with a
  // lying count would otherwise cost far more memory than the infos it holds.
  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    Raw r;
    TensorInfo& t = r.info;
    t.name = c.read_string(fmt::format("tensor #{} name", i));
    limits::check_name(where, "tensor name", t.name);
    if (!names.insert(t.name).second) fail(where, "duplicate tensor name {}", t.name);
    const uint32_t n_dims = c.read<uint32_t>("tensor " + t.name + " n_dims");
    if (n_dims < 1 || n_dims > gguf::kMaxDims)
      fail(where, "tensor {}: n_dims {} outside 1..{}", t.name, n_dims, gguf::kMaxDims);
    uint64_t ne[gguf::kMaxDims] = {};
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      ne[d] = c.read_count("tensor " + t.name + " dims");
      limits::check(where, "tensor " + t.name + ": dimension", ne[d], limits::kMaxDim, "one dimension");
      if (ne[d] > static_cast<uint64_t>(INT64_MAX) || mul_overflows(numel, ne[d], &numel) ||
          numel > static_cast<uint64_t>(INT64_MAX))
        fail(where, "tensor {}: element count overflows", t.name);
    }
    // GGUF lists ne[0] (the contiguous row length) first; TensorInfo is outermost first.
    for (uint32_t d = n_dims; d-- > 0;) t.shape.push_back(static_cast<int64_t>(ne[d]));
    const uint32_t type = c.read<uint32_t>("tensor " + t.name + " type");
    const auto dt = gguf::dtype_from_ggml(type);
    if (!dt) fail(where, "tensor {}: unsupported ggml type id {}", t.name, type);
    t.dtype = *dt;
    const uint32_t block = traits(t.dtype).block_elems;
    if (ne[0] % block != 0)
      fail(where, "tensor {}: row length {} is not a multiple of the {} block size {}", t.name, ne[0],
           dtype_name(t.dtype), block);
    const auto nbytes = dtype_bytes(t.dtype, numel);
    if (!nbytes) fail(where, "tensor {}: byte size overflows", t.name);
    t.nbytes = *nbytes;
    r.rel_offset = c.read<uint64_t>("tensor " + t.name + " offset");
    if (r.rel_offset % alignment != 0)
      fail(where, "tensor {}: offset {} is not a multiple of the alignment {}", t.name, r.rel_offset, alignment);
    raw.push_back(std::move(r));
  }

  // The data section starts at the next multiple of the alignment.
  uint64_t data_start = 0;
  if (add_overflows(c.pos(), alignment - 1, &data_start)) fail(where, "data section offset overflows");
  data_start -= data_start % alignment;
  for (auto& r : raw) {
    uint64_t end = 0;
    if (add_overflows(data_start, r.rel_offset, &r.info.offset) || add_overflows(r.info.offset, r.info.nbytes, &end) ||
        end > mf.size())
      fail(where, "tensor {}: data [{}, +{}) lies outside the file ({} bytes)", r.info.name, r.rel_offset,
           r.info.nbytes, mf.size());
  }
  std::vector<const TensorInfo*> by_offset;
  for (const auto& r : raw) by_offset.push_back(&r.info);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i - 1]->offset + by_offset[i - 1]->nbytes > by_offset[i]->offset)
      fail(where, "tensors {} and {} overlap", by_offset[i - 1]->name, by_offset[i]->name);

  for (auto& r : raw) ck.tensors.push_back(std::move(r.info));
  ck.gguf_metadata = std::move(meta);
  read_vocab(ck, ck.gguf_metadata, where);
  fill_config(ck, where);
  ck.assign_roles();
  return ck;
}

}  // namespace ctscope
