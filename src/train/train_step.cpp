#include "train/train_step.hpp"

#include <algorithm>

#include "train/grad_clip.hpp"
#include "util/error.hpp"

namespace ctscope::train {

template <class S>
double accumulate_gradients(ParameterSet<S>& params, Activations<S>& acts, TrainWeights<S>& grads,
                            std::span<const TokenBatch> micro_batches) {
  if (micro_batches.empty()) throw Error("a training step needs at least one batch");
  params.materialize();
  for (const auto& t : model_tensors(grads.config, grads.tied)) {
    auto& g = grads.tensor(t.layer, t.role);
    std::fill(g.begin(), g.end(), S(0));
  }
  params.zero_grad();  // the backward streams the factored links' gradients into params as it goes
  const double scale = 1.0 / static_cast<double>(micro_batches.size());
  double loss = 0;
  for (const auto& b : micro_batches) {
    loss += scale * train_forward(params.weights(), acts, b.inputs, b.targets);
    train_backward(params.weights(), acts, grads, scale, &params);
  }
  params.collect(grads);
  return loss;
}

template <class S>
StepResult train_step(ParameterSet<S>& params, Activations<S>& acts, TrainWeights<S>& grads,
                      std::span<const TokenBatch> micro_batches, Optimizer<S>& opt, double lr, double max_norm) {
  StepResult r;
  r.loss = accumulate_gradients(params, acts, grads, micro_batches);
  r.grad_norm = clip_grad_norm(params, max_norm);
  opt.step(params, lr);
  return r;
}

template double accumulate_gradients<float>(ParameterSet<float>&, Activations<float>&, TrainWeights<float>&,
                                            std::span<const TokenBatch>);
template double accumulate_gradients<double>(ParameterSet<double>&, Activations<double>&, TrainWeights<double>&,
                                             std::span<const TokenBatch>);
template StepResult train_step<float>(ParameterSet<float>&, Activations<float>&, TrainWeights<float>&,
                                      std::span<const TokenBatch>, Optimizer<float>&, double, double);
template StepResult train_step<double>(ParameterSet<double>&, Activations<double>&, TrainWeights<double>&,
                                       std::span<const TokenBatch>, Optimizer<double>&, double, double);

}  // namespace ctscope::train
