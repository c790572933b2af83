// The state of a training run between two steps, in one file, so that a run
// killed at any moment (kill -9 included) continues from its last state and
// ends with the parameters an uninterrupted run ends with, bit for bit. What
// a step depends on is the parameters, the optimizer's moments and step count
// t, and the step index (the schedule's position, and the data's: batch i of
// TokenWindows is a pure function of i); everything else is rebuilt from the
// model and the settings, whose identity the caller gives as a fingerprint
// that a resume must match.
//
// A safetensors file, written atomically (the old state or the new one on
// disk, never a partial one): F32 tensors "param.<name>" for every trainable
// parameter, and for AdamW "adam_m.<name>", "adam_v.<name>"; metadata
// {format: "ctscope-train-state", version, fingerprint, step, optimizer,
// optimizer_t, log} with log the caller's JSONL lines so far (a JSON array of
// strings), so a resumed run rewrites the same log.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "train/optimizer.hpp"
#include "train/parameter_set.hpp"

namespace ctscope::train {

inline constexpr const char* kTrainStateFormat = "ctscope-train-state";
inline constexpr int kTrainStateVersion = 1;

// What a state says about its run, besides the tensors.
struct TrainStateHeader {
  std::string fingerprint;       // the caller's identity of model + data + settings
  int64_t step = 0;              // the next step to run (the steps done)
  OptimizerKind optimizer = OptimizerKind::AdamW;
  int64_t optimizer_t = 0;       // the optimizer's step count (bias corrections)
  std::vector<std::string> log;  // the caller's log lines up to `step`
};

// Writes the trainable parameters of `params`, the state of `opt` and the
// header atomically to `file`; `step` is the next step to run.
void save_train_state(const std::filesystem::path& file, const ParameterSet<float>& params,
                      const Optimizer<float>& opt, int64_t step, const std::string& fingerprint,
                      const std::vector<std::string>& log);

// The header alone, checked: a state file of this format and version whose
// fingerprint is `fingerprint`. For a caller that wants the log before the
// run (and to refuse a wrong state before any long setup). Error naming the file.
TrainStateHeader read_train_state_header(const std::filesystem::path& file, const std::string& fingerprint);

// Checks the whole state against `params` and `opt` - the header as above, the
// optimizer kind, every trainable parameter present with its shape, no other
// tensor - and only then restores the parameter values, the moments and t.
// Error naming the file, params and opt untouched, on any mismatch.
TrainStateHeader load_train_state(const std::filesystem::path& file, const std::string& fingerprint,
                                  ParameterSet<float>& params, Optimizer<float>& opt);

}  // namespace ctscope::train
