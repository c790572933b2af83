// The training forward and backward of a whole Llama model over B sequences of
// T tokens, each from position 0: the layers of layers.hpp in the runtime's
// order, every activation the backward needs kept in buffers planned once
// (Activations), so a training step allocates nothing.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "train/train_weights.hpp"

namespace ctscope::train {

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
  // Scratch of the backward pass (one block at a time).
  std::vector<S> dres, dxn, datt, dq, dk, dv, dgate, dup, dhact, dprobs, dlogits;

  // Bytes the buffers hold (what a run at these shapes needs besides weights).
  uint64_t bytes() const;
};

// Buffers for B sequences of T tokens of a model of config c.
template <class S>
Activations<S> plan_activations(const ModelConfig& c, int64_t B, int64_t T);

// Runs the model on inputs [B*T] and returns the mean cross-entropy over the
// scored targets [B*T] (0 if none). Error if a token or target is out of the
// vocabulary or the sizes differ from the plan.
template <class S>
double train_forward(const TrainWeights<S>& w, Activations<S>& a, std::span<const int32_t> inputs,
                     std::span<const int32_t> targets);

// Adds loss_scale * d(mean loss)/d(weight) to every tensor of `grads` that is
// not empty (zero_gradients), and hands the gradient of every matrix with an
// empty buffer that `sink` takes to the sink as soon as it is known (the
// matrices trained through factors). The forward's activations must still be
// in `a`. Gradient accumulation over n micro-batches: loss_scale = 1/n each.
template <class S>
void train_backward(const TrainWeights<S>& w, Activations<S>& a, TrainWeights<S>& grads, double loss_scale = 1.0,
                    WeightGradientSink<S>* sink = nullptr);

}  // namespace ctscope::train
