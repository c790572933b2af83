// Several checkpoints analyzed into one result (analyze A B C ..., e.g. a
// training trajectory): the JSON puts each model's whole single-model result
// under "models" and a side-by-side "comparison"; the CSV is the single-model
// CSV with a leading model column; the terminal table and Markdown put the
// summary metrics of every model side by side, one column per model.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ct/model_analysis.hpp"
#include "report/text_table.hpp"

namespace ctscope::report {

// The label of each model in the columns and the "model" fields: its path as
// given; paths that are equal get " #2", " #3".
std::vector<std::string> model_labels(const std::vector<ct::ModelAnalysis>& runs);

// {"tool", "schema": "ctscope-analyze-multi/1", "models": [{"label", <analysis_json without "tool">}...],
//  "comparison": [{"label", "params", "matrices", "mean_weight_pr", "mean_stable_rank",
//                  "fits": [{"basis", "K", "pooled_r2", "pooled_r2_bound", "pooled_r2_null",
//                            "mean_amplitude_pr", "compression_paper"}]}...],
//  "timing": {"wall_s", "peak_rss_mb"}}
nlohmann::json multi_analysis_json(const std::vector<ct::ModelAnalysis>& runs);
std::string multi_analysis_csv(const std::vector<ct::ModelAnalysis>& runs);
// The summary metrics, one column per model, one row per metric (per basis and K).
Table multi_summary_table(const std::vector<ct::ModelAnalysis>& runs);
std::string multi_analysis_text(const std::vector<ct::ModelAnalysis>& runs);
std::string multi_analysis_markdown(const std::vector<ct::ModelAnalysis>& runs);

}  // namespace ctscope::report
