// `ctscope finetune`'s experiment: train what the parameter set makes
// trainable on windows of a training text, and measure the model with eval's
// perplexity rule on a validation text before, every eval_every steps and
// after — with KL and top-1 agreement against a reference model (the teacher,
// or the original) when there is one. The data (train and validation tokens,
// teacher and reference weights) is loaded once and shared, so
// finetune-compare trains every variant on exactly the same tokens.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/perplexity.hpp"
#include "io/checkpoint.hpp"
#include "runtime/llama_weights.hpp"
#include "train/parameter_set.hpp"
#include "train/train_model.hpp"
#include "train/train_run.hpp"
#include "util/progress.hpp"

namespace ctscope {

// Where the tokens come from.
struct FinetuneInputs {
  std::string train;      // a text file, or "teacher:N" (N tokens sampled from the teacher)
  std::string valid;      // a text file
  std::string tokenizer;  // "" : the model's own (text/tokenizer.hpp's fallbacks)
  std::string teacher;    // "" : none (no distillation, no teacher:N)
  std::string reference;  // the model KL and top-1 are measured against; "" : the teacher, if any
  int64_t ctx = 256;
  uint64_t seed = 0;      // teacher sampling
};

// The data a run trains and validates on, and the models it is measured against.
struct FinetuneData {
  std::vector<int32_t> train_tokens, valid_tokens;
  std::string train_where, valid_where;  // for messages: the file, or "teacher:N"
  std::shared_ptr<const LlamaWeights> teacher, reference;  // null: none
  std::string teacher_where;
  int64_t ctx = 0;
};

// "teacher:N" -> N; nullopt for a file name. Error for "teacher:" with no whole number.
std::optional<int64_t> teacher_token_count(const std::string& train);

// Loads and checks everything before any training: the texts tokenize to at
// least one training window and one validation chunk, the teacher and the
// reference run and share the model's vocabulary. Errors name the file.
FinetuneData load_finetune_data(const Checkpoint& model, const FinetuneInputs& in, const ProgressFn& progress = {});

struct FinetuneSettings {
  train::RunSettings run;
  int64_t eval_every = 0;     // 0: validate before and after only
  double distill_weight = 0;  // KL(teacher || student) weight in the loss; needs a teacher
  uint64_t seed = 0;          // the order of the training windows
  // The state file, its interval and the state to resume from; finetune
  // keeps the log lines in the state, so a resumed run rewrites the same log.
  train::Checkpointing checkpointing;
};

struct FinetuneResult {
  EvalResult before, after;           // validation at step 0 and after the last step
  std::vector<nlohmann::json> log;    // one line per step: StepLog + the validation keys on evaluation steps
                                      // (a resumed run's: the state's lines, then its own)
  uint64_t trainable_params = 0;
  int64_t trained_tokens = 0;         // by this process: steps run * accumulate * batch * ctx
  double seconds = 0;                 // training and validation, wall
  double tokens_per_s() const { return seconds > 0 ? static_cast<double>(trained_tokens) / seconds : 0; }
};

// Validation of weights w on d's validation text by eval's perplexity rule:
// perplexity, and KL / top-1 against d.reference when there is one.
EvalResult validate(std::shared_ptr<const LlamaWeights> w, const FinetuneData& d);

// The same for a training run's parameters, on the training forward: the
// amplitude links stay factored (no dense copy of the model, and the
// amplitudes' arithmetic instead of the dense model's); the other links are
// materialized from the current parameters first. `scratch` holds the
// forward's buffers for one chunk, planned on the first call and reused.
EvalResult validate(train::ParameterSet<float>& params, const FinetuneData& d,
                    std::optional<train::Activations<float>>& scratch);

struct FinetuneCallbacks {
  std::function<void(const nlohmann::json& line)> on_log;  // after every step, the line the log gets
  ProgressFn progress;  // (step done, steps, "loss 2.31  valid ppl 12.0  850 tok/s", 0)
};

// Trains params in place (params.dense_weights() is the trained model afterwards).
// cb.on_log gets every line of the log, a resumed run's earlier lines first.
FinetuneResult finetune(train::ParameterSet<float>& params, const FinetuneData& d, const FinetuneSettings& s,
                        const FinetuneCallbacks& cb = {});

}  // namespace ctscope
