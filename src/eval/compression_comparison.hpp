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
  uint64_t matrices = 0, rows = 0;  // the matrices (and their rows) the variant rewrites; all for the original
  uint64_t stored_params = 0, stored_bytes = 0;
  double pooled_r2 = 1;
  EvalResult eval;
};

struct CompressionComparison {
  std::string model, text, selection;
  int64_t ctx = 0;
  size_t fitted_matrices = 0;  // selected matrices (each K fits those with d >= K)
  std::vector<std::pair<std::string, std::string>> skipped;  // tensors not selected as matrices, with the reason
  uint64_t source_bytes = 0;
  std::vector<CompressionRow> rows;  // variants[0] (the original, the reference) first
  std::vector<KCoverage> coverage;   // per K run, what it fits and what it leaves dense
  std::vector<int> unrun_K;          // requested K that fit no selected matrix (no variants run)
  PerplexityFloors floors;           // uniform and unigram, on the same chunks
  std::vector<std::string> notes;    // evaluation_notes
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
