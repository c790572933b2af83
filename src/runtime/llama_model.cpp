#include "runtime/llama_model.hpp"

#include <algorithm>

#include "runtime/ops.hpp"
#include "util/error.hpp"
#include "util/resource_limits.hpp"

namespace ctscope {

namespace {
// The sliding attention window of a Mistral-style config, or 0.
int64_t sliding_window(const ModelConfig& c) {
  if (!c.hf_config.is_object()) return 0;
  const auto it = c.hf_config.find("sliding_window");
  return it != c.hf_config.end() && it->is_number_integer() ? std::max<int64_t>(it->get<int64_t>(), 0) : 0;
}
}  // namespace

int64_t LlamaModel::context_of(const ModelConfig& c) {
  const int64_t window = sliding_window(c);
  return window > 0 && window < c.max_seq_len ? window : c.max_seq_len;  // stay in the window
}

LlamaModel::LlamaModel(std::shared_ptr<const LlamaWeights> weights, int64_t max_positions)
    : w_(std::move(weights)), max_pos_(max_positions > 0 ? max_positions : context_of(w_->config)) {
  const auto& c = w_->config;
  const int64_t window = sliding_window(c);
  if (max_positions > 0 && window > 0 && window < max_pos_)
    throw Error(fmt::format("context of {} exceeds the model's sliding attention window of {} (not implemented)",
                            max_pos_, window));
  // Sizes from a header are checked before anything is allocated: the cache
  // holds what this model will run (callers pass the positions they need),
  // and must fit the machine's memory (limits::check_allocation).
  uint64_t n = 0, bytes = 0;
  const std::string what = fmt::format("a KV cache for {} positions x {} layers", max_pos_, c.n_layers);
  if (mul_overflows(static_cast<uint64_t>(c.n_layers), static_cast<uint64_t>(max_pos_), &n) ||
      mul_overflows(n, static_cast<uint64_t>(c.n_kv_heads * c.head_dim()), &n) || mul_overflows(n, 8, &bytes))
    throw Error(what + " overflows 64-bit sizes: ask for fewer positions");
  limits::check_allocation("", what + " (ask for fewer positions)", bytes);
  k_cache_.assign(n, 0.0f);
  v_cache_.assign(n, 0.0f);
}

std::span<const float> LlamaModel::forward_rows(std::span<const int32_t> tokens, int64_t first_row) {
  const auto& c = w_->config;
  const int64_t T = static_cast<int64_t>(tokens.size());
  const int64_t dim = c.dim, hd = c.head_dim(), kv_dim = c.n_kv_heads * hd, hidden = c.hidden_dim, V = c.vocab_size;
  if (T == 0) throw Error("forward: no tokens");
  if (first_row < 0 || first_row >= T) throw Error(fmt::format("forward: first logit row {} of {}", first_row, T));
  if (pos_ + T > max_pos_)
    throw Error(fmt::format("sequence of {} positions exceeds the model's context of {}", pos_ + T, max_pos_));
  for (int32_t id : tokens)
    if (id < 0 || id >= V) throw Error(fmt::format("token id {} is outside the vocabulary of {}", id, V));
  auto sz = [](int64_t n) { return static_cast<size_t>(n); };
  x_.resize(sz(T * dim));
  xb_.resize(sz(T * dim));
  q_.resize(sz(T * dim));
  att_.resize(sz(T * dim));
  hb_.resize(sz(T * hidden));
  hb2_.resize(sz(T * hidden));
  for (int64_t t = 0; t < T; ++t)
    std::copy_n(w_->embed.data() + static_cast<int64_t>(tokens[sz(t)]) * dim, dim, x_.data() + t * dim);
  const auto eps = static_cast<float>(c.norm_eps);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const auto& L = w_->layers[sz(l)];
    float* kc = k_cache_.data() + l * max_pos_ * kv_dim;
    float* vc = v_cache_.data() + l * max_pos_ * kv_dim;
    // Attention block; K and V go straight into the cache rows of these positions.
    ops::rmsnorm(xb_.data(), x_.data(), L.attn_norm.data(), T, dim, eps);
    ops::matmul(q_.data(), xb_.data(), L.wq.data(), T, dim, dim);
    ops::matmul(kc + pos_ * kv_dim, xb_.data(), L.wk.data(), T, dim, kv_dim);
    ops::matmul(vc + pos_ * kv_dim, xb_.data(), L.wv.data(), T, dim, kv_dim);
    ops::rope(q_.data(), T, c.n_heads, hd, pos_, c.rope_theta, c.rope);
    ops::rope(kc + pos_ * kv_dim, T, c.n_kv_heads, hd, pos_, c.rope_theta, c.rope);
    ops::attention(att_.data(), q_.data(), kc, vc, T, pos_, c.n_heads, c.n_kv_heads, hd);
    ops::matmul(xb_.data(), att_.data(), L.wo.data(), T, dim, dim);
    ops::add_inplace(x_.data(), xb_.data(), T * dim);
    // MLP block.
    ops::rmsnorm(xb_.data(), x_.data(), L.ffn_norm.data(), T, dim, eps);
    ops::matmul(hb_.data(), xb_.data(), L.w_gate.data(), T, dim, hidden);
    ops::matmul(hb2_.data(), xb_.data(), L.w_up.data(), T, dim, hidden);
    ops::swiglu(hb_.data(), hb2_.data(), T * hidden);
    ops::matmul(xb_.data(), hb_.data(), L.w_down.data(), T, hidden, dim);
    ops::add_inplace(x_.data(), xb_.data(), T * dim);
  }
  pos_ += T;
  // Classifier over the rows asked for only.
  const int64_t first = first_row, rows = T - first;
  ops::rmsnorm(xb_.data(), x_.data() + first * dim, w_->final_norm.data(), rows, dim, eps);
  logits_.resize(sz(rows * V));
  ops::matmul(logits_.data(), xb_.data(), w_->classifier().data(), rows, dim, V);
  return logits_;
}

}  // namespace ctscope
