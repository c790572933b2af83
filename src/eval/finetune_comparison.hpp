// finetune-compare's experiment: does training the amplitudes bring the
// compressed model back, and is that more than the same number of trainable
// parameters achieves otherwise? For each K: CT amplitudes trained in each
// basis, LoRA on the least-squares-compressed model with its rank chosen so
// its trainable parameters match the amplitudes', and full fine-tuning of the
// same compressed model (the upper bound of training it); beside the original
// and int8 (neither trained). Every trained row sees the same data, steps,
// schedule and seed; every row is validated the same way against the same
// reference (usually the original).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ct/basis.hpp"
#include "ct/tensor_selection.hpp"
#include "eval/finetune_run.hpp"

namespace ctscope {

struct FinetuneCompareSettings {
  std::vector<int> Ks{8};
  std::vector<ct::BasisKind> bases{ct::BasisKind::Gaussian};
  ct::TensorSelection selection;
  uint64_t basis_seed = 0x5eed;  // the random basis
  FinetuneSettings train;        // the same for every trained row
  bool lora = true, full = true;
};

struct FinetuneRow {
  std::string variant;  // "gaussian K=8 amplitudes", "K=8 LoRA r=3", "K=8 full", "int8 row-absmax", "original"
  std::string kind;     // "original", "int8", "amplitudes", "lora", "full"
  std::optional<ct::BasisKind> basis;
  int K = 0;              // 0: not a CT variant
  int64_t lora_rank = 0;  // 0: not LoRA
  uint64_t trainable_params = 0, stored_params = 0;
  EvalResult before;
  std::optional<EvalResult> after;  // trained rows only
  std::vector<nlohmann::json> log;
  double seconds = 0;
};

struct FinetuneComparison {
  std::vector<FinetuneRow> rows;  // original, int8, then per K: each basis's amplitudes, LoRA, full
  PerplexityFloors floors;        // of the validation text
};

// The LoRA rank whose trainable parameters, sum of r (n + d) over the fitted
// matrices, come nearest to the amplitudes' sum of n K (at least 1).
int64_t matched_lora_rank(uint64_t amplitude_params, uint64_t lora_params_per_rank);

struct FinetuneCompareCallbacks {
  std::function<void(size_t row, size_t rows, const std::string& variant)> on_row;  // before each row runs
  ProgressFn step_progress;  // within a trained row
};

FinetuneComparison compare_finetuning(const Checkpoint& ck, const FinetuneData& d, const FinetuneCompareSettings& s,
                                      const FinetuneCompareCallbacks& cb = {});

}  // namespace ctscope
