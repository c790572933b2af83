// One optimizer step with gradient accumulation: the parameters are
// materialized into the model, each micro-batch runs forward and backward
// with loss scale 1/n (so the gradient is that of the mean of the n
// micro-batch losses; the gradients of matrices trained through factors are
// streamed into their parameters as the backward computes them), the dense
// gradients become parameter gradients, all are clipped by global norm, and
// the optimizer moves the parameters.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "train/optimizer.hpp"
#include "train/train_model.hpp"

namespace ctscope::train {

// B*T inputs and targets (a negative target is not scored).
struct TokenBatch {
  std::vector<int32_t> inputs, targets;
};

struct StepResult {
  double loss = 0;       // mean over the micro-batches of their mean loss
  double grad_norm = 0;  // global, before clipping
};

// grads: ParameterSet::gradient_buffers(), reused across steps. max_norm <= 0: no clipping.
template <class S>
StepResult train_step(ParameterSet<S>& params, Activations<S>& acts, TrainWeights<S>& grads,
                      std::span<const TokenBatch> micro_batches, Optimizer<S>& opt, double lr, double max_norm);

// The gradient of the mean micro-batch loss into params' gradients (no update):
// train_step without the clip and the step, for checks and evaluation.
template <class S>
double accumulate_gradients(ParameterSet<S>& params, Activations<S>& acts, TrainWeights<S>& grads,
                            std::span<const TokenBatch> micro_batches);

}  // namespace ctscope::train
