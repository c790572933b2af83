// llama2.c legacy checkpoints (Karpathy's run.c): a 7 x int32 header, then the
// float32 weights stacked per kind across layers, in run.c order. We expose one
// TensorInfo per layer slice (Meta names) so the weights stream zero-copy.
#include <cstring>
#include <string>

#include "io/formats.hpp"
#include "util/error.hpp"

namespace ctscope {

namespace {

constexpr uint32_t kNewExportMagic = 0x616b3432;  // "ak42": llama2.c export.py versions >= 1

struct Header {
  int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

// Appends tensors laid out one after another; the caller has already checked
// that the whole layout fits the file, so no sum here can overflow.
class Layout {
 public:
  explicit Layout(uint64_t start) : cursor_(start) {}
  void add(Checkpoint& ck, std::string name, std::vector<int64_t> shape) {
    TensorInfo t;
    t.name = std::move(name);
    t.dtype = DType::F32;
    t.shape = std::move(shape);
    t.offset = cursor_;
    t.nbytes = t.numel() * sizeof(float);
    cursor_ += t.nbytes;
    ck.tensors.push_back(std::move(t));
  }
  void skip(uint64_t floats) { cursor_ += floats * sizeof(float); }

 private:
  uint64_t cursor_;
};

}  // namespace

Checkpoint open_llama2c(const std::filesystem::path& file) {
  const std::string where = file.string();
  Checkpoint ck;
  ck.path = file;
  ck.format = Format::Llama2c;
  ck.files.push_back(MappedFile::open(where));
  const MappedFile& mf = *ck.files[0];

  if (mf.size() >= 4) {
    uint32_t magic = 0;
    std::memcpy(&magic, mf.data(), 4);
    if (magic == kNewExportMagic)
      fail(where, "llama2.c export version >= 1 (magic \"ak42\") is not supported; only the legacy (version 0) format is");
  }
  if (mf.size() < sizeof(Header))
    fail(where, "too small for a llama2.c header: {} bytes, need {}", mf.size(), sizeof(Header));
  Header h{};
  std::memcpy(&h, mf.data(), sizeof h);

  const bool shared = h.vocab_size > 0;
  const int64_t vocab = h.vocab_size < 0 ? -int64_t{h.vocab_size} : h.vocab_size;  // int64: INT32_MIN negates fine
  auto positive = [&](int64_t v, const char* name) {
    if (v <= 0) fail(where, "llama2.c header: {} must be positive, got {}", name, v);
  };
  positive(h.dim, "dim");
  positive(h.hidden_dim, "hidden_dim");
  positive(h.n_layers, "n_layers");
  positive(h.n_heads, "n_heads");
  positive(h.n_kv_heads, "n_kv_heads");
  positive(vocab, "vocab_size");
  positive(h.seq_len, "seq_len");
  if (h.dim % h.n_heads != 0) fail(where, "llama2.c header: dim {} not divisible by n_heads {}", h.dim, h.n_heads);
  if (h.n_heads % h.n_kv_heads != 0)
    fail(where, "llama2.c header: n_heads {} not divisible by n_kv_heads {}", h.n_heads, h.n_kv_heads);
  const int64_t head_size = h.dim / h.n_heads;
  if (head_size % 2 != 0) fail(where, "llama2.c header: head size {} is odd (RoPE needs pairs)", head_size);

  const int64_t dim = h.dim, hidden = h.hidden_dim, layers = h.n_layers;
  const int64_t kv_dim = dim / h.n_heads * h.n_kv_heads;  // <= dim, no overflow
  const uint64_t rope_half = static_cast<uint64_t>(h.seq_len) * static_cast<uint64_t>(head_size / 2);  // < 2^62

  // The expected size first, in checked arithmetic (products of int32s reach 2^93),
  // so an absurd header fails here before we create n_layers x 9 tensor entries.
  {
    auto U = [](int64_t v) { return static_cast<uint64_t>(v); };
    bool bad = false;
    auto mul = [&](uint64_t a, uint64_t b) { uint64_t r = 0; bad |= mul_overflows(a, b, &r); return r; };
    auto add = [&](uint64_t a, uint64_t b) { uint64_t r = 0; bad |= add_overflows(a, b, &r); return r; };
    const uint64_t d = U(dim), kv = U(kv_dim), hd = U(hidden);
    uint64_t per_layer = add(add(mul(2, d), mul(2, mul(d, d))), add(mul(2, mul(kv, d)), mul(3, mul(hd, d))));
    uint64_t floats = add(add(mul(U(vocab), d), mul(U(layers), per_layer)), add(d, mul(2, rope_half)));
    if (!shared) floats = add(floats, mul(U(vocab), d));
    const uint64_t expected = add(sizeof(Header), mul(floats, sizeof(float)));
    if (bad || expected != mf.size())
      fail(where, "llama2.c file size mismatch: header (dim {}, hidden {}, layers {}, heads {}, kv_heads {}, vocab {}{}, "
           "seq_len {}) implies {} bytes, file has {}",
           dim, hidden, layers, h.n_heads, h.n_kv_heads, vocab, shared ? " shared" : " + separate classifier",
           h.seq_len, bad ? std::string("more than 2^64") : std::to_string(expected), mf.size());
  }

  Layout lay(sizeof(Header));
  auto per_layer = [&](const char* suffix, const std::vector<int64_t>& shape) {
    for (int64_t l = 0; l < layers; ++l) lay.add(ck, fmt::format("layers.{}.{}", l, suffix), shape);
  };
  lay.add(ck, "tok_embeddings.weight", {vocab, dim});
  per_layer("attention_norm.weight", {dim});
  per_layer("attention.wq.weight", {dim, dim});
  per_layer("attention.wk.weight", {kv_dim, dim});
  per_layer("attention.wv.weight", {kv_dim, dim});
  per_layer("attention.wo.weight", {dim, dim});
  per_layer("ffn_norm.weight", {dim});
  per_layer("feed_forward.w1.weight", {hidden, dim});
  per_layer("feed_forward.w2.weight", {dim, hidden});
  per_layer("feed_forward.w3.weight", {hidden, dim});
  lay.add(ck, "norm.weight", {dim});
  lay.skip(2 * rope_half);  // freq_cis_real and freq_cis_imag: [seq_len, head_size/2] each
  if (shared) {
    TensorInfo out = ck.tensors.front();  // same bytes as the embedding, not counted twice
    out.name = "output.weight";
    out.alias_of = "tok_embeddings.weight";
    ck.tensors.push_back(std::move(out));
  } else {
    lay.add(ck, "output.weight", {vocab, dim});
  }

  ModelConfig& c = ck.config;
  c.architecture = "llama";
  c.dim = dim;
  c.hidden_dim = hidden;
  c.n_layers = layers;
  c.n_heads = h.n_heads;
  c.n_kv_heads = h.n_kv_heads;
  c.vocab_size = vocab;
  c.max_seq_len = h.seq_len;
  c.norm_eps = 1e-5;        // run.c's rmsnorm
  c.rope_theta = 10000.0;   // run.c's RoPE
  c.tie_embeddings = shared;
  c.rope = RopeLayout::Interleaved;
  ck.assign_roles();
  return ck;
}

}  // namespace ctscope
