// A training run without its I/O: `steps` optimizer steps, each over
// `accumulate` micro-batches of B windows of the data (TokenWindows), at the
// schedule's learning rate, clipped by global norm, reporting each step.
// Deterministic: the same parameters, data, settings and BLAS thread count
// give the same parameters bit for bit (batch i of the data is fixed, and
// nothing else draws random numbers). `ctscope finetune` wraps this with
// files, validation and the output writer.
//
// Resumable: with a state file the run saves its state (train/train_state.hpp)
// every save_every steps and after the last; a run resumed from a state starts
// at its step with its parameters, moments and optimizer step count, so it
// ends bit for bit where the uninterrupted run ends (same thread count).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>
#include <optional>

#include <nlohmann/json.hpp>

#include "train/optimizer.hpp"
#include "train/schedule.hpp"
#include "train/token_windows.hpp"
#include "train/train_step.hpp"

namespace ctscope::train {

struct RunSettings {
  int64_t steps = 100, batch = 8, accumulate = 1;
  Schedule schedule;  // schedule.steps is set to steps
  OptimizerSettings optimizer;
  double clip = 1.0;  // max global gradient norm; <= 0: none
};

struct StepLog {
  int64_t step = 0;  // 0-based
  double loss = 0, lr = 0, grad_norm = 0, seconds = 0;  // loss: mean CE; seconds since the run began
  std::optional<double> kl;        // mean KL(teacher || student) of the step, with a teacher
  nlohmann::json to_json() const;  // one line of the JSONL log ("train_kl" with a teacher)
};

// Where and when a run saves its state, and the state it resumes from.
struct Checkpointing {
  std::filesystem::path state;  // saved here (atomically) when set
  int64_t save_every = 0;       // after step s when (s+1) % save_every == 0; <= 0: only after the last step
  std::string fingerprint;      // identity of model + data + settings; a resumed state must carry the same
  std::function<std::vector<std::string>()> log_lines;  // the caller's log so far, kept in the state (may be empty)
  std::filesystem::path resume;  // when set: continue from this state, at its step
};

// Trains params in place; on_step after every step (may be empty), before
// that step's state is saved (so the log lines saved include the step).
// With a teacher, each step minimizes mean CE + weight * mean KL
// (train_step.hpp). Error naming the resume file when its state does not fit
// this run or is past s.steps.
void train_run(ParameterSet<float>& params, const TokenWindows& data, const RunSettings& s,
               const std::function<void(const StepLog&)>& on_step = {}, const Checkpointing& checkpointing = {},
               const TeacherFn<float>& teacher = {});

}  // namespace ctscope::train
