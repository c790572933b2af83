// The options finetune and finetune-compare share, worded once: the data
// (--train, --valid, --tokenizer, --ctx, --teacher, --ref) and the training
// run (steps, batch, schedule, optimizer, clipping, seed, distillation,
// validation interval).
#pragma once
#include <string>

#include <CLI/CLI.hpp>

#include "eval/finetune_run.hpp"

namespace ctscope::cli {

struct TrainingOptions {
  FinetuneInputs in;
  FinetuneSettings s;
  std::string optimizer = "adamw";
  double distill_weight = -1;  // unset: 1 with a teacher, else 0
};

void add_training_options(CLI::App& sub, TrainingOptions& o);

// After parsing: the settings as given (optimizer kind, distillation weight's
// default, the data seed shared with teacher sampling). Errors name the option.
void finish_training_options(TrainingOptions& o);

// The inputs as a result records them: eval's (the validation text as
// "text", tokenizer, reference) plus "train" and "teacher"; a teacher:N text
// is no file (null here; the settings say teacher:N).
nlohmann::json training_inputs_json(const FinetuneInputs& in);

// The settings as a result records them (names as the options).
nlohmann::json training_settings_json(const TrainingOptions& o, const FinetuneData& d);

}  // namespace ctscope::cli
