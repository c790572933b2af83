#include "report/html_report.hpp"

#include <algorithm>
#include <cctype>

#include "report/web_assets.hpp"
#include "util/error.hpp"
#include "util/file_fingerprint.hpp"
#include "util/json_text.hpp"
#include "util/version.hpp"

namespace ctscope::report {

void require_charting() {
  if (!charting_available())
    throw Error(
        "ctscope report: this ctscope was built without its charting bundles (web/node_modules was missing at build "
        "time): run scripts/install-deps.sh (npm ci in web/), then build again");
}

namespace {

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t i = s.find(from); i != std::string::npos; i = s.find(from, i + to.size())) s.replace(i, from.size(), to);
}

// JSON inside <script type="application/json">: a '<' may only occur in a
// string, where \u003c means the same, so no "</script>" can end it early.
std::string script_json(const nlohmann::json& j) {
  std::string s = json_text(j);
  replace_all(s, "<", "\\u003c");
  return s;
}

// Code inside <script>: "</script" (in any case, as the browser reads it) may
// only occur in a string or a regex, where "<\/script" means the same.
std::string script_code(const std::string& code) {
  std::string o;
  o.reserve(code.size());
  for (size_t i = 0; i < code.size(); ++i) {
    o += code[i];
    if (code[i] == '<' && i + 8 <= code.size() && code[i + 1] == '/' &&
        std::equal(code.begin() + static_cast<std::ptrdiff_t>(i) + 2, code.begin() + static_cast<std::ptrdiff_t>(i) + 8,
                   "script", [](char c, char s) { return std::tolower(static_cast<unsigned char>(c)) == s; }))
      o += '\\';
  }
  return o;
}

std::string html_escape(std::string_view s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

std::string page_title(const nlohmann::json& payload) {
  std::string names;
  for (const auto& r : payload["results"]) {
    // analyze and eval-compression: "model": {"path": ...}; finetune(-compare): "model": "path".
    const auto& model = r["result"].contains("model") ? r["result"]["model"] : nlohmann::json();
    std::string p = model.is_string() ? model.get<std::string>()
                                      : r["result"].value(nlohmann::json::json_pointer("/model/path"), r["file"].get<std::string>());
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    const std::string name = p.substr(p.find_last_of('/') == std::string::npos ? 0 : p.find_last_of('/') + 1);
    if (names.find(name) == std::string::npos) names += (names.empty() ? "" : ", ") + name;
  }
  return "ctscope report: " + names;
}

}  // namespace

nlohmann::json report_payload(const std::vector<ResultFile>& results) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : results) list.push_back({{"file", r.file}, {"kind", r.kind}, {"result", r.result}});
  return {{"generated", {{"version", version_string()}, {"git_commit", git_commit()}, {"date_utc", now_iso8601_utc()}}},
          {"charting", charting_versions()},
          {"results", std::move(list)}};
}

std::string html_report(const std::vector<ResultFile>& results) {
  require_charting();
  const nlohmann::json payload = report_payload(results);
  // The policy is the browser's guarantee that the page loads nothing: no
  // request leaves it (Vega compiles its expressions: 'unsafe-eval').
  std::string page =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline' "
      "'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:\">\n<title>" +
      html_escape(page_title(payload)) + "</title>\n<style>\n" + report_css() +
      "</style>\n</head>\n<body>\n"
      "<noscript>This report draws its figures and tables with JavaScript; the results are in the "
      "ctscope-data element of this page's source.</noscript>\n<main id=\"report\"></main>\n"
      "<script type=\"application/json\" id=\"ctscope-data\">" +
      script_json(payload) + "</script>\n";
  for (const auto& code : {vega_js(), vega_lite_js(), vega_embed_js(), report_js()})
    page += "<script>\n" + script_code(code) + "\n</script>\n";
  page += "<details id=\"licenses\"><summary>Third-party licenses (" + html_escape(charting_versions()) +
          " and what they bundle)</summary><pre>" + html_escape(third_party_licenses()) +
          "</pre></details>\n</body>\n</html>\n";
  return page;
}

}  // namespace ctscope::report
