// One optimizer step with gradient accumulation: the parameters are
// materialized into the model (amplitude links with K < d stay factored:
// ParameterSet::step_weights), each micro-batch runs forward and backward
// with loss scale 1/n (so the gradient is that of the mean of the n
// micro-batch losses; the gradients of matrices trained through factors are
// streamed into their parameters as the backward computes them), the dense
// gradients become parameter gradients, all are clipped by global norm, and
// the optimizer moves the parameters.
#pragma once
#include <cstdint>
#include <functional>
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
  double loss = 0;       // mean over the micro-batches of their mean cross-entropy
  double kl = 0;         // the same mean of KL(teacher || student); 0 without a teacher
  double grad_norm = 0;  // global, before clipping
};

// The distillation teacher of a run: the teacher's logits for a micro-batch's
// inputs [B*T] and the weight of the KL term (Distillation, train_model.hpp);
// the logits stay valid until the next call. Empty: no teacher. A runtime
// model as one: Teacher (train/teacher.hpp). The objective differentiated is
// mean CE + weight * mean KL.
template <class S>
using TeacherFn = std::function<Distillation<S>(std::span<const int32_t> inputs)>;

// grads: ParameterSet::gradient_buffers(), reused across steps. max_norm <= 0: no clipping.
template <class S>
StepResult train_step(ParameterSet<S>& params, Activations<S>& acts, TrainWeights<S>& grads,
                      std::span<const TokenBatch> micro_batches, Optimizer<S>& opt, double lr, double max_norm,
                      const TeacherFn<S>& teacher = {});

// The gradient of the mean micro-batch loss into params' gradients (no update):
// train_step without the clip and the step (grad_norm stays 0), for checks and
// evaluation.
template <class S>
StepResult accumulate_gradients(ParameterSet<S>& params, Activations<S>& acts, TrainWeights<S>& grads,
                                std::span<const TokenBatch> micro_batches, const TeacherFn<S>& teacher = {});

}  // namespace ctscope::train
