// Which tensors a run fits (analyze, compress, eval-compression), and why the
// others are left out: a preset (`paper68`: the paper's 155 matrices on
// TinyLlama) or every 2-D tensor, narrowed by name regexes.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "io/checkpoint.hpp"

namespace ctscope::ct {

struct TensorSelection {
  std::string preset;            // "" (every 2-D tensor) or "paper68"
  std::string include, exclude;  // ECMAScript regexes searched in tensor names
};

// The names of the presets, for --help and validation.
const std::vector<std::string>& selection_presets();

struct Selection {
  std::vector<const TensorInfo*> matrices;
  std::vector<std::pair<std::string, std::string>> skipped;  // (name, reason)
  std::string description;                                   // for reports and JSON settings.selection
};

// Matrices with rows shorter than min_row_length (the largest K) are skipped
// with the reason. Throws Error for an unknown preset or an invalid regex.
Selection select_tensors(const Checkpoint& ck, const TensorSelection& s, int64_t min_row_length);

// The tensors whose data a selection fits, each once: a selected alias (the tied
// lm_head of paper68) stands for its data, the embedding. Used by compress and
// eval-compression, which rewrite data rather than report per name.
std::vector<const TensorInfo*> tensors_to_fit(const Checkpoint& ck, const Selection& sel);

}  // namespace ctscope::ct
