// Which tensors a run fits (analyze, compress, eval-compression), and why the
// others are left out: a preset (`paper68`: the paper's 155 matrices on
// TinyLlama) or every 2-D tensor, narrowed by name regexes, roles and layers.
// Names are matched as `inspect` shows them: the file's own name or the
// canonical Hugging Face name of its (layer, role), so `--include q_proj`
// selects the same tensors in a GGUF (blk.0.attn_q.weight), a llama2.c .bin
// (layers.0.attention.wq.weight) and a Hugging Face checkpoint.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "io/checkpoint.hpp"

namespace ctscope::ct {

struct TensorSelection {
  std::string preset;            // "" (every 2-D tensor) or "paper68"
  std::string include, exclude;  // ECMAScript regexes searched in the native and the canonical name
  std::vector<std::string> roles;  // Hugging Face role names (fittable_role_names()); empty: any
  std::string layers;              // "0-5,10,20-21"; empty: any (tensors outside the blocks drop out otherwise)
};

// The names of the presets, for --help and validation.
const std::vector<std::string>& selection_presets();

// The role names --role accepts: the matrices a run can fit (q_proj ... down_proj,
// embed_tokens, lm_head). The norms are vectors and never fitted.
const std::vector<std::string>& fittable_role_names();

// One closed range of transformer block indices, first <= last.
struct LayerRange {
  int first = 0, last = 0;
  bool operator==(const LayerRange&) const = default;
};
// Parses "0-5,10,20-21" (whitespace around items allowed). Throws Error
// ("--layers '...': ...") on an empty item, a non-number, a negative or a
// reversed range. The model's layer count is checked by select_tensors.
std::vector<LayerRange> parse_layer_ranges(const std::string& text);

struct Selection {
  std::vector<const TensorInfo*> matrices;
  std::vector<std::pair<std::string, std::string>> skipped;  // (name, reason)
  std::string description;                                   // for reports and JSON settings.selection
  int64_t longest_row = 0;  // the longest d of a fittable matrix, those left out for d < min_row_length too
};

// Matrices with rows shorter than min_row_length (the largest K) are skipped
// with the reason. Throws Error for an unknown preset or role, an invalid
// regex, a layer outside the model, and a selection that matches no tensor
// (one line naming the model and the selection).
Selection select_tensors(const Checkpoint& ck, const TensorSelection& s, int64_t min_row_length);

// Throws Error naming `where` when the selection can fit nothing at any of Ks
// (spec, "Coverage"): it holds no fittable matrix, or every such row is shorter
// than the smallest K. Called by analyze, compress and eval-compression before
// their long pass.
void require_fittable(const Selection& sel, const std::vector<int>& Ks, const std::string& where);

// The tensors whose data a selection fits, each once: a selected alias (the tied
// lm_head of paper68) stands for its data, the embedding. Used by compress and
// eval-compression, which rewrite data rather than report per name.
std::vector<const TensorInfo*> tensors_to_fit(const Checkpoint& ck, const Selection& sel);

}  // namespace ctscope::ct
