#include "train/train_run.hpp"

#include <chrono>
#include <vector>

#include "train/train_step.hpp"

namespace ctscope::train {

nlohmann::json StepLog::to_json() const {
  nlohmann::json j = {{"step", step}, {"train_loss", loss}, {"lr", lr}, {"grad_norm", grad_norm}, {"seconds", seconds}};
  if (kl) j["train_kl"] = *kl;
  return j;
}

void train_run(ParameterSet<float>& params, const TokenWindows& data, const RunSettings& s,
               const std::function<void(const StepLog&)>& on_step, const TeacherFn<float>& teacher) {
  const auto t0 = std::chrono::steady_clock::now();
  Schedule sched = s.schedule;
  sched.steps = s.steps;
  Activations<float> acts = plan_activations<float>(params.weights().config, s.batch, data.window_length());
  TrainWeights<float> grads = params.gradient_buffers();
  Optimizer<float> opt(s.optimizer, params);
  std::vector<TokenBatch> micro(static_cast<size_t>(s.accumulate));
  for (int64_t step = 0; step < s.steps; ++step) {
    for (int64_t m = 0; m < s.accumulate; ++m)
      micro[static_cast<size_t>(m)] = data.batch(step * s.accumulate + m, s.batch);
    StepLog log;
    log.step = step;
    log.lr = learning_rate(sched, step);
    const StepResult r =
        train_step(params, acts, grads, std::span<const TokenBatch>(micro), opt, log.lr, s.clip, teacher);
    log.loss = r.loss;
    if (teacher) log.kl = r.kl;
    log.grad_norm = r.grad_norm;
    log.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (on_step) on_step(log);
  }
  params.materialize();  // weights() is the trained model
}

}  // namespace ctscope::train
