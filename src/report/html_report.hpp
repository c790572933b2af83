// The HTML report: one self-contained page (figures, tables, glossary) for
// any mix of analyze, eval-compression, finetune and finetune-compare
// results, of one model or several side by side. The page inlines its
// charting code (Vega-Lite, see report/web_assets.hpp) and embeds the results
// as JSON, so it opens offline from a file and is itself a record of the
// runs. web/report.js draws it.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "report/result_file.hpp"

namespace ctscope::report {

// What the page embeds: {"generated": {"version", "git_commit", "date_utc"},
// "charting": "vega 5.33.1, ...", "results": [{"file", "kind", "result"}, ...]}.
nlohmann::json report_payload(const std::vector<ResultFile>& results);

// Error when this build has no charting bundles: for commands to call before a long run.
void require_charting();

// The page. Error when this build has no charting bundles (web/node_modules absent at build time).
std::string html_report(const std::vector<ResultFile>& results);

// Writes each figure of the page as DIR/<figure>.svg (created if missing; each
// file replaced atomically), drawn by Vega's headless renderer under Node.js.
// Error, before anything is written, when `node` is not on PATH. Returns the file names.
std::vector<std::string> write_report_svgs(const std::vector<ResultFile>& results, const std::string& dir);

}  // namespace ctscope::report
