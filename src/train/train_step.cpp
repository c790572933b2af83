#include "train/train_step.hpp"

#include <algorithm>

#include "train/grad_clip.hpp"
#include "util/error.hpp"

namespace ctscope::train {

template <class S>
StepResult accumulate_gradients(ParameterSet<S>& params, Activations<S>& acts, TrainWeights<S>& grads,
                                std::span<const TokenBatch> micro_batches, const TeacherFn<S>& teacher) {
  if (micro_batches.empty()) throw Error("a training step needs at least one batch");
  params.materialize();  // the dense and LoRA links; factored amplitudes stay factors
  const StepWeights<S> w = params.step_weights();
  for (const auto& t : model_tensors(grads.config, grads.tied)) {
    auto& g = grads.tensor(t.layer, t.role);
    std::fill(g.begin(), g.end(), S(0));
  }
  params.zero_grad();  // the backward streams the factored links' gradients into params as it goes
  const double scale = 1.0 / static_cast<double>(micro_batches.size());
  StepResult r;
  for (const auto& b : micro_batches) {
    const Distillation<S> distill = teacher ? teacher(b.inputs) : Distillation<S>{};
    r.loss += scale * train_forward(w, acts, b.inputs, b.targets, distill);
    r.kl += scale * acts.kl_mean;
    train_backward(w, acts, grads, scale, &params);
  }
  params.collect(grads);
  return r;
}

template <class S>
StepResult train_step(ParameterSet<S>& params, Activations<S>& acts, TrainWeights<S>& grads,
                      std::span<const TokenBatch> micro_batches, Optimizer<S>& opt, double lr, double max_norm,
                      const TeacherFn<S>& teacher) {
  StepResult r = accumulate_gradients(params, acts, grads, micro_batches, teacher);
  r.grad_norm = clip_grad_norm(params, max_norm);
  opt.step(params, lr);
  return r;
}

template StepResult accumulate_gradients<float>(ParameterSet<float>&, Activations<float>&, TrainWeights<float>&,
                                                std::span<const TokenBatch>, const TeacherFn<float>&);
template StepResult accumulate_gradients<double>(ParameterSet<double>&, Activations<double>&, TrainWeights<double>&,
                                                 std::span<const TokenBatch>, const TeacherFn<double>&);
template StepResult train_step<float>(ParameterSet<float>&, Activations<float>&, TrainWeights<float>&,
                                      std::span<const TokenBatch>, Optimizer<float>&, double, double,
                                      const TeacherFn<float>&);
template StepResult train_step<double>(ParameterSet<double>&, Activations<double>&, TrainWeights<double>&,
                                       std::span<const TokenBatch>, Optimizer<double>&, double, double,
                                       const TeacherFn<double>&);

}  // namespace ctscope::train
