#include "runtime/llama_weights.hpp"

#include <fmt/ranges.h>

#include "io/checkpoint.hpp"
#include "util/error.hpp"

namespace ctscope {

uint64_t LlamaWeights::matmul_params() const {
  const auto& c = config;
  const auto d = static_cast<uint64_t>(c.dim), h = static_cast<uint64_t>(c.hidden_dim),
             kv = static_cast<uint64_t>(c.n_kv_heads * c.head_dim());
  return static_cast<uint64_t>(c.n_layers) * (2 * d * d + 2 * kv * d + 3 * h * d) +
         static_cast<uint64_t>(c.vocab_size) * d;
}

void validate_llama_config(const ModelConfig& c, const std::string& where) {
  // Mistral is Llama with sliding-window attention: the same within the window
  // (LlamaModel refuses contexts beyond it).
  if (c.architecture != "llama" && c.architecture != "mistral")
    fail(where, "unsupported architecture '{}' (only llama can be run)", c.architecture);
  if (c.dim <= 0 || c.hidden_dim <= 0 || c.n_layers <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.vocab_size <= 0)
    fail(where, "config has a zero or negative size (dim {}, hidden {}, layers {}, heads {}, kv_heads {}, vocab {})",
         c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size);
  if (c.dim % c.n_heads != 0) fail(where, "dim {} is not a multiple of n_heads {}", c.dim, c.n_heads);
  if (c.n_heads % c.n_kv_heads != 0) fail(where, "n_heads {} is not a multiple of n_kv_heads {}", c.n_heads, c.n_kv_heads);
  if (c.head_dim() % 2 != 0) fail(where, "head_dim {} is odd (rotary embeddings need pairs)", c.head_dim());
  if (!(c.norm_eps > 0) || !(c.rope_theta > 0)) fail(where, "norm_eps and rope_theta must be positive");
  if (c.max_seq_len <= 0) fail(where, "max_seq_len {} must be positive", c.max_seq_len);
}

LlamaWeights load_llama_weights(const ModelConfig& config, const WeightSource& source, const std::string& where) {
  validate_llama_config(config, where);
  const auto d = static_cast<size_t>(config.dim), h = static_cast<size_t>(config.hidden_dim),
             kv = static_cast<size_t>(config.n_kv_heads * config.head_dim()), v = static_cast<size_t>(config.vocab_size);
  auto get = [&](int layer, Role role, size_t n, bool optional = false) {
    std::vector<float> w = source(layer, role);
    if (optional && w.empty()) return w;
    if (w.size() != n)
      fail(where, "{}{} has {} values, expected {}", role_name(role),
           layer >= 0 ? fmt::format(" of layer {}", layer) : std::string(), w.size(), n);
    return w;
  };
  LlamaWeights w;
  w.config = config;
  w.embed = get(-1, Role::EmbedTokens, v * d);
  // Layer by layer: a config that claims layers the source does not hold fails
  // at the first missing tensor, having allocated only what exists.
  for (int l = 0; l < static_cast<int>(config.n_layers); ++l) {
    auto& L = w.layers.emplace_back();
    L.attn_norm = get(l, Role::InputLayernorm, d);
    L.wq = get(l, Role::QProj, d * d);
    L.wk = get(l, Role::KProj, kv * d);
    L.wv = get(l, Role::VProj, kv * d);
    L.wo = get(l, Role::OProj, d * d);
    L.ffn_norm = get(l, Role::PostAttentionLayernorm, d);
    L.w_gate = get(l, Role::GateProj, h * d);
    L.w_up = get(l, Role::UpProj, h * d);
    L.w_down = get(l, Role::DownProj, d * h);
  }
  w.final_norm = get(-1, Role::Norm, d);
  w.lm_head = get(-1, Role::LmHead, v * d, /*optional=*/true);
  return w;
}

LlamaWeights load_llama_weights(const Checkpoint& ck) {
  const std::string where = ck.path.string();
  validate_llama_config(ck.config, where);
  const auto& c = ck.config;
  const int64_t kv = c.n_kv_heads * c.head_dim();
  // Expected [rows, cols] of each matrix role (vectors: rows only).
  auto expected = [&](Role r) -> std::vector<int64_t> {
    switch (r) {
      case Role::EmbedTokens: case Role::LmHead: return {c.vocab_size, c.dim};
      case Role::QProj: case Role::OProj: return {c.dim, c.dim};
      case Role::KProj: case Role::VProj: return {kv, c.dim};
      case Role::GateProj: case Role::UpProj: return {c.hidden_dim, c.dim};
      case Role::DownProj: return {c.dim, c.hidden_dim};
      default: return {c.dim};
    }
  };
  int64_t layers_held = 0;
  for (const auto& t : ck.tensors) layers_held = std::max<int64_t>(layers_held, t.layer + 1);
  if (c.n_layers != layers_held)
    fail(where, "the config says {} layers but the file holds tensors of {}", c.n_layers, layers_held);
  WeightSource src = [&](int layer, Role role) -> std::vector<float> {
    const TensorInfo* t = ck.find(layer, role);
    if (role == Role::LmHead && (t == nullptr || !t->alias_of.empty())) return {};
    if (t == nullptr)
      fail(where, "missing tensor {}{}", role_name(role), layer >= 0 ? fmt::format(" of layer {}", layer) : "");
    if (t->shape != expected(role))
      fail(where, "tensor {} has shape [{}], expected [{}] from the config", t->name, fmt::join(t->shape, ", "),
           fmt::join(expected(role), ", "));
    std::vector<float> out = ck.read_f32(*t);
    ck.release(*t);
    return out;
  };
  return load_llama_weights(c, src, where);
}

}  // namespace ctscope
