// A Llama model's dense weights in the scalar a training run computes in:
// float for real runs, double for the gradient checks. The same layout as the
// runtime's LlamaWeights (row-major [out, in] matrices), so a trained model
// runs there unchanged. The same type holds the gradients: a tensor left
// empty in a gradient set is one nobody asked for, and the backward pass
// skips its weight gradient.
#pragma once
#include <cstdint>
#include <vector>

#include "model/config.hpp"
#include "model/roles.hpp"
#include "runtime/llama_weights.hpp"

namespace ctscope::train {

template <class S>
struct TrainLayer {
  std::vector<S> attn_norm, ffn_norm;  // [dim]
  std::vector<S> wq, wo;               // [dim, dim]
  std::vector<S> wk, wv;               // [kv_dim, dim]
  std::vector<S> w_gate, w_up;         // [hidden, dim]
  std::vector<S> w_down;               // [dim, hidden]
};

template <class S>
struct TrainWeights {
  ModelConfig config;
  bool tied = false;  // classifier = embed (lm_head stays empty)
  std::vector<S> embed;  // [vocab, dim]
  std::vector<TrainLayer<S>> layers;
  std::vector<S> final_norm;  // [dim]
  std::vector<S> lm_head;     // [vocab, dim]; empty when tied

  // The tensor of (layer, role); layer -1 for EmbedTokens, Norm, LmHead.
  // LmHead of a tied model is the embedding. Error for Role::Other.
  std::vector<S>& tensor(int layer, Role role);
  const std::vector<S>& tensor(int layer, Role role) const {
    return const_cast<TrainWeights*>(this)->tensor(layer, role);
  }
};

// [rows, cols] of (layer, role) under config c (norms: [dim, 1]).
struct TensorShape {
  int64_t rows = 0, cols = 0;
  int64_t size() const { return rows * cols; }
};
TensorShape tensor_shape(const ModelConfig& c, Role role);

// Every tensor of a model, in file order (embedding, per layer attn norm,
// q, k, v, o, ffn norm, gate, up, down; final norm; the classifier unless tied).
std::vector<TensorRole> model_tensors(const ModelConfig& c, bool tied);

// The runtime's weights as S. From an rvalue the tensors are moved (float) or
// converted one at a time and freed (double), so loading a model never holds
// two full copies (at TinyLlama shapes a copy is 4.4 GB).
template <class S>
TrainWeights<S> train_weights_from(const LlamaWeights& w);
template <class S>
TrainWeights<S> train_weights_from(LlamaWeights&& w);
// And back (float), e.g. to run a trained model or score it with eval's rule.
template <class S>
LlamaWeights to_llama_weights(const TrainWeights<S>& w);

// Bytes the tensors hold (empty ones, e.g. gradients nobody asked for, hold none).
template <class S>
uint64_t tensor_bytes(const TrainWeights<S>& w);

// Where the backward pass puts the gradient of a weight matrix that has no
// buffer in the gradient set: a parameter set that trains W through factors
// (W = A G, W = W0 + s B A) takes dout [N, n_out] and x [N, n_in] of
// dW = dout^T x and adds its factors' gradients at once, so the dense
// [n_out, n_in] gradient is never formed (at TinyLlama shapes 4 GB). The
// When the step applied W factored it also hands xg = x G^T [N, K], which
// the forward computed (null otherwise: the sink forms what it needs). The
// embedding's dW = S^T dout (S [N, vocab] the one-hot rows of the tokens)
// comes as dout [N, d] and the tokens. A tied classifier (-1, LmHead) is the
// embedding's matrix: its gradient goes to the embedding's link.
template <class S>
class WeightGradientSink {
 public:
  virtual ~WeightGradientSink() = default;
  virtual bool takes(int layer, Role role) const = 0;
  virtual void add_weight_gradient(int layer, Role role, const S* dout, const S* x, const S* xg, int64_t N,
                                   int64_t n_in, int64_t n_out) = 0;
  virtual void add_embedding_gradient(const S* dout, const int32_t* tokens, int64_t N, int64_t d) = 0;
};

// Zero-filled gradients for the tensors `wanted` says yes to (others empty).
template <class S, class Wanted>
TrainWeights<S> zero_gradients(const TrainWeights<S>& w, const Wanted& wanted) {
  TrainWeights<S> g;
  g.config = w.config;
  g.tied = w.tied;
  g.layers.resize(w.layers.size());
  for (const auto& t : model_tensors(w.config, w.tied))
    if (wanted(t.layer, t.role)) g.tensor(t.layer, t.role).assign(w.tensor(t.layer, t.role).size(), S(0));
  return g;
}

}  // namespace ctscope::train
