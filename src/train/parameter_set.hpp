// What a training run changes, and how it reaches the model. Each trainable
// tensor of the model is bound to parameters by one link:
//   dense       W itself                         dW
//   amplitudes  W = A G (+ 1 o^T)                dA = dW G^T, dG = A^T dW, do = 1^T dW
//   lora        W = W0 + (alpha/R) B A           dB = s dW A^T, dA = s B^T dW
// A basis G (K x d, with an optional offset row o) is a parameter of its own,
// shared by every matrix that uses it (universal: one per row length) and
// trainable or frozen (gaussian, dct and random bases follow from (K, d, seed)
// and stay frozen; an svd basis or a universal basis and offset are stored
// pieces a run may train). Tensors no link covers keep their values.
//
// A step runs on step_weights(): an amplitude link with K < d is applied
// factored (x G^T A^T, never forming W: its dense tensor stays empty, so
// amplitude training at TinyLlama shapes never holds the 4.4 GB model);
// materialize() writes the other linked tensors (dense, LoRA, amplitudes at
// K >= d) into the dense part. dense_weights() builds the whole dense model
// on demand, for writers. The backward pass fills
// gradient_buffers() (dense buffers only for the dense links that train) and
// hands the gradient of each matrix trained through factors (amplitudes,
// LoRA) to the set itself as a WeightGradientSink, which adds the factors'
// gradients at once without forming dW:
//   W = s L R,  dW = dout^T x:  dL += s dout^T (x R^T),  dR += s (dout L)^T x,
// 2 N K (n + d) FLOPs for N tokens instead of 2 N n d (+ 2 n K d) for dW and
// then dW R^T, and no dense [n, d] buffer (at TinyLlama shapes, amplitude
// training would otherwise hold a second 4 GB copy of the model). collect()
// turns the dense buffers into parameter gradients (and still takes a dense
// dW of a factored link, the path the streamed one is tested against).
// Where K >= d the factors are no smaller than W, and the stream forms dW in
// a scratch of [n, d] and takes collect's path (the same arithmetic).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "train/train_model.hpp"
#include "train/train_weights.hpp"

namespace ctscope::train {

template <class S>
struct Parameter {
  std::string name;       // e.g. "model.layers.0.self_attn.q_proj.weight.ct_amplitudes"
  int64_t rows = 0, cols = 0;
  std::vector<S> value;
  std::vector<S> grad;    // rows*cols when trainable, else empty
  bool trainable = true;
  bool decay = true;      // weight decay applies (matrices), not to norms and offsets
};

enum class LinkKind { Dense, Amplitudes, Lora };

template <class S>
class ParameterSet : public WeightGradientSink<S> {
 public:
  // The starting model; tensors no link covers are used as they are.
  explicit ParameterSet(TrainWeights<S> base);

  // W(layer, role) trained as it is.
  void add_dense(int layer, Role role);
  // A basis G [K, d] (+ offset [d], or empty) for add_amplitudes; returns its id.
  int add_basis(const std::string& name, int64_t K, int64_t d, std::vector<S> G, std::vector<S> offset,
                bool trainable);
  // W(layer, role) [n, d] = A G (+ offset) with A [n, K] starting at A0.
  void add_amplitudes(int layer, Role role, int basis, std::vector<S> A0);
  // W = W0 + (alpha/rank) B A with W0 the current tensor (frozen), B [n, rank]
  // = 0 and A [rank, d] ~ N(0, 1/d) seeded: training starts at W0.
  void add_lora(int layer, Role role, int64_t rank, double alpha, uint64_t seed);

  // Read-only views for writers of a trained model: how (layer, role) is
  // linked (nullopt: not at all), and an amplitude link's A, basis G and offset
  // (nullptr: none); Error when (layer, role) is not amplitude-linked.
  std::optional<LinkKind> link_kind(int layer, Role role) const;
  struct AmplitudeLink {
    const Parameter<S>* A = nullptr;
    const Parameter<S>* G = nullptr;
    const Parameter<S>* offset = nullptr;
  };
  AmplitudeLink amplitude_link(int layer, Role role) const;

  std::vector<Parameter<S>>& params() { return params_; }
  const std::vector<Parameter<S>>& params() const { return params_; }
  // Trainable scalars (what the optimizer updates).
  uint64_t trainable_count() const;

  // Rebuilds the linked tensors the step holds dense (every link but the
  // factored amplitudes) from the parameters.
  void materialize();
  // What a step runs on (call materialize() after the parameters change): the
  // dense part and the factors of the factored amplitude links.
  StepWeights<S> step_weights() const;
  // The dense part alone: every tensor but the factored amplitude links (empty).
  const TrainWeights<S>& step_dense_weights() const { return w_; }
  // The whole model, every linked tensor rebuilt from the current parameters
  // into a fresh copy (at TinyLlama shapes 4.4 GB while it lives), e.g. to
  // write the trained model.
  TrainWeights<S> dense_weights() const;
  const ModelConfig& config() const { return w_.config; }
  // Zeroed dense gradients for the tensors of the dense links that train
  // (the others are left empty: the backward streams them to this set).
  TrainWeights<S> gradient_buffers() const;
  void zero_grad();
  // Adds the parameter gradients that follow from the dense gradients dW
  // (tensors left empty are skipped: their gradients were streamed).
  void collect(const TrainWeights<S>& dW);

  // WeightGradientSink: the matrices of the amplitude and LoRA links that train.
  bool takes(int layer, Role role) const override;
  void add_weight_gradient(int layer, Role role, const S* dout, const S* x, const S* xg, int64_t N, int64_t n_in,
                           int64_t n_out) override;
  void add_embedding_gradient(const S* dout, const int32_t* tokens, int64_t N, int64_t d) override;

  // Bytes held: the step's dense weights (factored amplitude links hold none), the parameters'
  // values (frozen ones included, e.g. LoRA's W0), their gradients with the
  // scratch of add_weight_gradient.
  uint64_t weight_bytes() const { return tensor_bytes(w_); }
  uint64_t parameter_bytes() const;
  uint64_t gradient_bytes() const;

 private:
  struct Link {
    LinkKind kind;
    TensorRole tensor;
    int a = -1, b = -1;  // parameters: dense W; amplitudes A and basis id; lora B and A
    int frozen = -1;     // lora: W0
    double scale = 1;    // lora: alpha/rank
  };
  struct Basis {
    int G = -1, offset = -1;  // parameters
  };
  bool link_trains(const Link& l) const;
  // An amplitude link with K < d: applied factored, never held dense.
  bool factored(const Link& l) const;
  // The link of (layer, role); a tied classifier's is the embedding's.
  const Link* find_link(int layer, Role role) const;
  // W of link l from its parameters into W (sized to it).
  void write_link(const Link& l, std::vector<S>& W) const;
  // The factors of a link trained through them: W = s L R (+ offset) with
  // amplitudes L = A, R = G, s = 1; LoRA L = B, R = A, s = alpha/rank.
  struct Factors {
    Parameter<S>& L;
    Parameter<S>& R;
    S s;
  };
  Factors factors_of(const Link& l);
  // The trainable offset gradient of l's basis, or null.
  std::vector<S>* offset_gradient(const Link& l);
  // Adds the gradients of l's trainable parameters that follow from its dense dW.
  void collect_link(const Link& l, const S* dW);
  int add_param(Parameter<S> p);
  void require_unlinked(int layer, Role role) const;

  TrainWeights<S> w_;
  std::vector<Parameter<S>> params_;
  std::vector<Basis> bases_;
  std::vector<Link> links_;
  std::vector<S> scratch_;  // [N, K] of add_weight_gradient (or a dense dW at K >= d), grown to the largest asked
};

}  // namespace ctscope::train
