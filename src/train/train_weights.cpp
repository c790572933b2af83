#include "train/train_weights.hpp"

#include <type_traits>

#include "util/error.hpp"

namespace ctscope::train {

template <class S>
std::vector<S>& TrainWeights<S>::tensor(int layer, Role role) {
  if (layer < 0) {
    switch (role) {
      case Role::EmbedTokens: return embed;
      case Role::Norm: return final_norm;
      case Role::LmHead: return tied ? embed : lm_head;
      default: break;
    }
  } else if (static_cast<size_t>(layer) < layers.size()) {
    auto& L = layers[static_cast<size_t>(layer)];
    switch (role) {
      case Role::InputLayernorm: return L.attn_norm;
      case Role::PostAttentionLayernorm: return L.ffn_norm;
      case Role::QProj: return L.wq;
      case Role::KProj: return L.wk;
      case Role::VProj: return L.wv;
      case Role::OProj: return L.wo;
      case Role::GateProj: return L.w_gate;
      case Role::UpProj: return L.w_up;
      case Role::DownProj: return L.w_down;
      default: break;
    }
  }
  throw Error(fmt::format("no tensor {} of layer {} in a Llama model", role_name(role), layer));
}

TensorShape tensor_shape(const ModelConfig& c, Role role) {
  const int64_t kv = c.n_kv_heads * c.head_dim();
  switch (role) {
    case Role::EmbedTokens: case Role::LmHead: return {c.vocab_size, c.dim};
    case Role::QProj: case Role::OProj: return {c.dim, c.dim};
    case Role::KProj: case Role::VProj: return {kv, c.dim};
    case Role::GateProj: case Role::UpProj: return {c.hidden_dim, c.dim};
    case Role::DownProj: return {c.dim, c.hidden_dim};
    default: return {c.dim, 1};
  }
}

std::vector<TensorRole> model_tensors(const ModelConfig& c, bool tied) {
  std::vector<TensorRole> out = {{-1, Role::EmbedTokens}};
  for (int l = 0; l < static_cast<int>(c.n_layers); ++l)
    for (Role r : {Role::InputLayernorm, Role::QProj, Role::KProj, Role::VProj, Role::OProj,
                   Role::PostAttentionLayernorm, Role::GateProj, Role::UpProj, Role::DownProj})
      out.push_back({l, r});
  out.push_back({-1, Role::Norm});
  if (!tied) out.push_back({-1, Role::LmHead});
  return out;
}

namespace {

// The runtime's weights as S, each tensor taken by `take` (a copy or a move).
template <class S, class W, class Take>
TrainWeights<S> convert_weights(W& w, const Take& take) {
  TrainWeights<S> t;
  t.config = w.config;
  t.tied = w.lm_head.empty();
  t.layers.resize(w.layers.size());
  t.embed = take(w.embed);
  for (size_t l = 0; l < w.layers.size(); ++l) {
    auto& a = w.layers[l];
    auto& b = t.layers[l];
    b.attn_norm = take(a.attn_norm), b.ffn_norm = take(a.ffn_norm);
    b.wq = take(a.wq), b.wk = take(a.wk), b.wv = take(a.wv), b.wo = take(a.wo);
    b.w_gate = take(a.w_gate), b.w_up = take(a.w_up), b.w_down = take(a.w_down);
  }
  t.final_norm = take(w.final_norm);
  t.lm_head = take(w.lm_head);
  return t;
}

}  // namespace

template <class S>
TrainWeights<S> train_weights_from(const LlamaWeights& w) {
  return convert_weights<S>(w, [](const std::vector<float>& from) { return std::vector<S>(from.begin(), from.end()); });
}

template <class S>
TrainWeights<S> train_weights_from(LlamaWeights&& w) {
  return convert_weights<S>(w, [](std::vector<float>& from) {
    if constexpr (std::is_same_v<S, float>) {
      return std::move(from);
    } else {
      std::vector<S> out(from.begin(), from.end());
      std::vector<float>().swap(from);
      return out;
    }
  });
}

template <class S>
uint64_t tensor_bytes(const TrainWeights<S>& w) {
  uint64_t n = 0;
  for (const auto& t : model_tensors(w.config, w.tied)) n += w.tensor(t.layer, t.role).size() * sizeof(S);
  return n;
}

template <class S>
LlamaWeights to_llama_weights(const TrainWeights<S>& t) {
  auto copy = [](const std::vector<S>& from) {
    std::vector<float> out(from.size());
    for (size_t i = 0; i < from.size(); ++i) out[i] = static_cast<float>(from[i]);
    return out;
  };
  LlamaWeights w;
  w.config = t.config;
  w.embed = copy(t.embed);
  for (const auto& a : t.layers) {
    auto& b = w.layers.emplace_back();
    b.attn_norm = copy(a.attn_norm), b.ffn_norm = copy(a.ffn_norm);
    b.wq = copy(a.wq), b.wk = copy(a.wk), b.wv = copy(a.wv), b.wo = copy(a.wo);
    b.w_gate = copy(a.w_gate), b.w_up = copy(a.w_up), b.w_down = copy(a.w_down);
  }
  w.final_norm = copy(t.final_norm);
  if (!t.tied) w.lm_head = copy(t.lm_head);
  return w;
}

template struct TrainWeights<float>;
template struct TrainWeights<double>;
template TrainWeights<float> train_weights_from<float>(const LlamaWeights&);
template TrainWeights<double> train_weights_from<double>(const LlamaWeights&);
template TrainWeights<float> train_weights_from<float>(LlamaWeights&&);
template TrainWeights<double> train_weights_from<double>(LlamaWeights&&);
template uint64_t tensor_bytes<float>(const TrainWeights<float>&);
template uint64_t tensor_bytes<double>(const TrainWeights<double>&);
template LlamaWeights to_llama_weights<float>(const TrainWeights<float>&);
template LlamaWeights to_llama_weights<double>(const TrainWeights<double>&);

}  // namespace ctscope::train
