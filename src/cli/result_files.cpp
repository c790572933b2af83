// The files a command writes of its result: --json and the --html page of it.
#include "cli/command.hpp"
#include "report/html_report.hpp"
#include "report/result_file.hpp"
#include "util/atomic_file.hpp"
#include "util/json_text.hpp"

namespace ctscope::cli {

void write_result_files(const std::string& json, const std::string& html, const std::string& name,
                        const nlohmann::json& result) {
  if (!json.empty()) write_file_atomic(json, json_text(result, 2) + "\n");
  if (!html.empty())
    write_file_atomic(html, report::html_report({report::classify_result(json.empty() ? name : json, result)}));
}

}  // namespace ctscope::cli
