// Renderings of eval-compression's comparison: the terminal table (one row per
// variant: stored size, R^2, perplexity, KL, top-1) and its JSON.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/compression_variants.hpp"
#include "eval/perplexity.hpp"

namespace ctscope::report {

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
  std::vector<CompressionRow> rows;  // the original first
};

std::string compression_text(const CompressionComparison& c);
nlohmann::json compression_json(const CompressionComparison& c);

}  // namespace ctscope::report
