// eval-compression's experiment: every variant (original, int8, CT at each
// basis and K) scored on the same chunks of the same text against the
// original model - perplexity, KL and top-1 agreement, beside what each stores.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "eval/compression_variants.hpp"
#include "eval/perplexity.hpp"
#include "util/progress.hpp"

namespace ctscope {

struct CompressionRow {
  Variant variant;
  uint64_t stored_params = 0, stored_bytes = 0;
  double pooled_r2 = 1;
  EvalResult eval;
};

struct CompressionComparison {
  std::string model, text, selection;
  int64_t ctx = 0;
  size_t fitted_matrices = 0;
  uint64_t source_bytes = 0;
  std::vector<CompressionRow> rows;  // variants[0] (the original, the reference) first
};

struct ComparisonSettings {
  int64_t ctx = 512;
  double max_memory_gb = 8;  // candidates evaluated together must fit (4 bytes per parameter each)
};

// variants[0] must be the original. Candidates are built one group at a time
// (as many as fit the memory budget) and scored in one pass over the text.
// progress: per chunk of each group, with the running perplexity of its first candidate.
CompressionComparison compare_variants(const Checkpoint& ck, VariantBuilder& builder,
                                       const std::vector<Variant>& variants, const std::vector<int32_t>& tokens,
                                       const std::string& text_name, const ComparisonSettings& s,
                                       const ProgressFn& progress = {});

}  // namespace ctscope
