// Renderings of a ModelAnalysis: the terminal report and Markdown (the same
// tables, report/text_table.hpp: every fit beside its own bound and the null,
// amplitudes beside their white-noise null, coverage, accounting per basis),
// the JSON of the spec's schema, and one CSV row per (matrix, basis, K).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ct/model_analysis.hpp"
#include "report/text_table.hpp"

namespace ctscope::report {

struct ReportOptions {
  bool per_matrix = false;      // the per-matrix table
  std::string sort = "order";   // per-matrix order: order (as in the file), r2, weight_pr, name
  int top = 0;                  // per-matrix rows shown (0: all)
};
// The accepted ReportOptions::sort keys, for --help and validation.
const std::vector<std::string>& per_matrix_sort_keys();

// Every table of the report, in order (analysis_text and analysis_markdown render these).
std::vector<Table> analysis_tables(const ct::ModelAnalysis& a, const ReportOptions& o = {});

std::string analysis_text(const ct::ModelAnalysis& a, const ReportOptions& o = {});
std::string analysis_markdown(const ct::ModelAnalysis& a, const ReportOptions& o = {});
nlohmann::json analysis_json(const ct::ModelAnalysis& a);
std::string analysis_csv(const ct::ModelAnalysis& a);

// "▁▂▃▅▇" for a series (min..max), for compact per-layer plots.
std::string sparkline(const std::vector<double>& v);
// What the bound of a basis's fits is called: "best linear K-dim (SVD)" or "best affine K-dim (centered SVD)".
std::string bound_name(ct::BasisKind b);
// Plain-words verdict for one (basis, K), drawn from the non-trivial fits (K < d) only.
std::string verdict(const ct::FitAggregate& f);
// Short explanations of what the report shows (trivial fits, negative R², the nulls), for its foot.
std::vector<std::string> analysis_notes(const ct::ModelAnalysis& a);

}  // namespace ctscope::report
