// Renderings of eval-compression's comparison: the terminal table (one row per
// variant: stored size, R^2, perplexity, KL, top-1) and its JSON.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "eval/compression_comparison.hpp"

namespace ctscope::report {

std::string compression_text(const CompressionComparison& c);
nlohmann::json compression_json(const CompressionComparison& c);

}  // namespace ctscope::report
