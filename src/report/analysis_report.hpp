// Renderings of a ModelAnalysis: the one-screen terminal report (in the order
// of Paper 68, every fit beside its SVD and null baselines), the JSON of the
// spec's schema, one CSV row per (matrix, basis, K), and Markdown.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "ct/model_analysis.hpp"

namespace ctscope::report {

std::string analysis_text(const ct::ModelAnalysis& a, bool color = false);
nlohmann::json analysis_json(const ct::ModelAnalysis& a);
std::string analysis_csv(const ct::ModelAnalysis& a);
std::string analysis_markdown(const ct::ModelAnalysis& a);

// "▁▂▃▅▇" for a series (min..max), for compact per-layer plots.
std::string sparkline(const std::vector<double>& v);
// Plain-words verdict for one (basis, K), e.g. "gaussian K=64 captures 3.0% of the variance; ..."
std::string verdict(const ct::FitAggregate& f);

}  // namespace ctscope::report
