// The training forward and backward of a whole Llama model over B sequences of
// T tokens, each from position 0: the layers of layers.hpp in the runtime's
// order, every activation the backward needs kept in buffers planned once
// (Activations), so a training step allocates nothing.
#pragma once
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "train/train_weights.hpp"

namespace ctscope::train {

// Distillation on a batch: the teacher's logits for the same inputs ([B*T,
// vocab], row t its prediction after input t; they must stay valid until
// train_backward) and the weight w of KL(teacher || student) that each scored
// position adds to its cross-entropy. Empty logits: no teacher. With w = 0
// the KL is still measured (reported) but neither the loss nor the gradient
// sees it: exactly the numbers of a run without a teacher.
template <class S>
struct Distillation {
  std::span<const S> teacher_logits;
  double weight = 0;
};

// A weight matrix W [n_out, n_in] as the step applies it: dense, or factored
// W = A G (+ 1 o^T) with A [n_out, K], G [K, n_in] and an optional offset row
// o [n_in], never formed (factored_matmul_forward, layers.hpp). Factored
// needs K < n_in: at K >= n_in the factors are no smaller than W.
template <class S>
struct WeightMatrix {
  const S* W = nullptr;  // dense; null when factored
  const S* A = nullptr;
  const S* G = nullptr;
  const S* offset = nullptr;  // null: none
  int64_t K = 0;
};

// The weights a forward and backward run on: the dense tensors, except the
// matrices applied factored, which stay empty there (at TinyLlama shapes
// amplitude training then never holds the 4.4 GB dense model) and whose
// factors are listed here. A plain TrainWeights is the all-dense case.
template <class S>
struct StepWeights {
  const TrainWeights<S>& dense;
  std::vector<std::pair<TensorRole, WeightMatrix<S>>> factored;  // filled by add_factored

  explicit StepWeights(const TrainWeights<S>& w) : dense(w) {}  // every tensor dense
  const ModelConfig& config() const { return dense.config; }
  // Applies tensor t factored: Error unless m.K is below t's row length
  // (Activations::factor_tmp is planned for K below it).
  void add_factored(TensorRole t, const WeightMatrix<S>& m);
  // W(layer, role) (a tied classifier is the embedding); Error when the
  // tensor is neither factored nor held dense.
  WeightMatrix<S> matrix(int layer, Role role) const;
};

template <class S>
struct Activations {
  int64_t B = 0, T = 0;
  std::vector<int32_t> inputs, targets;  // [B*T]; a negative target is not scored
  // Per layer l (offsets l * size): the residual entering the block and after
  // attention, the normed inputs and their rstd, q (roped), k (roped), v, the
  // softmax probabilities, the attention output, gate, up and silu(gate)*up.
  std::vector<S> res_in, res_mid, xn1, xn2, rstd1, rstd2, q, k, v, probs, att, gate, up, hact;
  std::vector<S> res_final, xnf, rstdf, logits;  // after the last block
  std::vector<double> loss, lse;                 // per token
  int64_t scored = 0;                            // targets >= 0
  // Distillation (a forward given teacher logits): the teacher's log-sum-exp
  // and the KL per token, the mean KL over the scored targets, the weight, and
  // the teacher's logits as given (null: no teacher).
  std::vector<double> teacher_lse, kl;
  double kl_mean = 0, distill_weight = 0;
  const S* teacher_logits = nullptr;
  // Scratch of the backward pass (one block at a time).
  std::vector<S> dres, dxn, datt, dq, dk, dv, dgate, dup, dhact, dlogits;
  std::vector<S> attn_scratch;  // attention_forward's and _backward's (layers.hpp)
  // [N, K] scratch of the factored matrices (the backward's sum of dout A
  // over the matrices sharing a basis; the embedding's gathered rows of A):
  // N * max(dim, hidden), since a factored matrix has K < its row length.
  std::vector<S> factor_tmp;
  // x G^T of each factored matrix [N, K], kept from the forward for the
  // factors' gradient (dA = dout^T x G^T): xg_at[7 l + role] (the classifier
  // at 7 L) is its offset in xg, -1 when the matrix is dense. Matrices that
  // read one input through one basis share one (q, k, v; gate, up). Sized by
  // the first forward: the plan does not know the K's.
  std::vector<S> xg;
  std::vector<int64_t> xg_at;

  // Bytes the buffers hold (what a run at these shapes needs besides weights).
  uint64_t bytes() const;
};

// Buffers for B sequences of T tokens of a model of config c.
template <class S>
Activations<S> plan_activations(const ModelConfig& c, int64_t B, int64_t T);

// Runs the model on inputs [B*T] and returns the mean cross-entropy over the
// scored targets [B*T] (0 if none). With teacher logits, a.kl_mean is the mean
// KL(teacher || student) over the same targets (else 0); the loss the backward
// differentiates is then mean CE + weight * mean KL. Error if a token or target
// is out of the vocabulary, the sizes differ from the plan, or the teacher's
// logits are not [B*T, vocab].
template <class S>
double train_forward(const StepWeights<S>& w, Activations<S>& a, std::span<const int32_t> inputs,
                     std::span<const int32_t> targets, const Distillation<S>& distill = {});
template <class S>
double train_forward(const TrainWeights<S>& w, Activations<S>& a, std::span<const int32_t> inputs,
                     std::span<const int32_t> targets, const Distillation<S>& distill = {}) {
  return train_forward(StepWeights<S>(w), a, inputs, targets, distill);
}

// Adds loss_scale * d(mean loss)/d(weight) to every tensor of `grads` that is
// not empty (zero_gradients), and hands the gradient of every matrix with an
// empty buffer that `sink` takes to the sink as soon as it is known (the
// matrices trained through factors, the embedding's lookup included). The
// forward's activations must still be in `a`, from the same weights `w`. Gradient accumulation over n micro-batches: loss_scale = 1/n each.
// Distillation adds weight * (softmax(student) - softmax(teacher)) per scored
// position to the logits' gradient (times the same 1/scored and loss_scale).
template <class S>
void train_backward(const StepWeights<S>& w, Activations<S>& a, TrainWeights<S>& grads, double loss_scale = 1.0,
                    WeightGradientSink<S>* sink = nullptr);
template <class S>
void train_backward(const TrainWeights<S>& w, Activations<S>& a, TrainWeights<S>& grads, double loss_scale = 1.0,
                    WeightGradientSink<S>* sink = nullptr) {
  train_backward(StepWeights<S>(w), a, grads, loss_scale, sink);
}

}  // namespace ctscope::train
