#include "train/train_run.hpp"

#include <chrono>
#include <vector>

#include "train/train_state.hpp"
#include "train/train_step.hpp"
#include "util/error.hpp"

namespace ctscope::train {

nlohmann::json StepLog::to_json() const {
  nlohmann::json j = {{"step", step}, {"train_loss", loss}, {"lr", lr}, {"grad_norm", grad_norm}, {"seconds", seconds}};
  if (kl) j["train_kl"] = *kl;
  return j;
}

void train_run(ParameterSet<float>& params, const TokenWindows& data, const RunSettings& s,
               const std::function<void(const StepLog&)>& on_step, const Checkpointing& checkpointing,
               const TeacherFn<float>& teacher) {
  const auto t0 = std::chrono::steady_clock::now();
  Schedule sched = s.schedule;
  sched.steps = s.steps;
  Activations<float> acts = plan_activations<float>(params.config(), s.batch, data.window_length());
  TrainWeights<float> grads = params.gradient_buffers();
  Optimizer<float> opt(s.optimizer, params);
  const Checkpointing& ck = checkpointing;
  int64_t first = 0;
  if (!ck.resume.empty()) {
    first = load_train_state(ck.resume, ck.fingerprint, params, opt).step;
    if (first > s.steps) fail(ck.resume.string(), "training state at step {}, past this run's {} steps", first, s.steps);
  }
  const auto save = [&](int64_t next_step) {
    save_train_state(ck.state, params, opt, next_step, ck.fingerprint,
                     ck.log_lines ? ck.log_lines() : std::vector<std::string>{});
  };
  std::vector<TokenBatch> micro(static_cast<size_t>(s.accumulate));
  for (int64_t step = first; step < s.steps; ++step) {
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
    const bool last = step + 1 == s.steps;
    if (!ck.state.empty() && (last || (ck.save_every > 0 && (step + 1) % ck.save_every == 0))) save(step + 1);
  }
  params.materialize();  // the step's dense weights are the trained model's (dense_weights() the whole of it)
}

}  // namespace ctscope::train
