// The HTML report (report/result_file, report/html_report, `ctscope report`):
// what it accepts, the one-line errors for what it does not, and that the page
// is self-contained. The page in a real browser: tests/report_browser.js.
#include <gtest/gtest.h>

#include <vector>

#include "report/html_report.hpp"
#include "report/result_file.hpp"
#include "report/web_assets.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

namespace ctscope {
namespace {

using namespace test_support;
using nlohmann::json;

// The smallest analysis result the report takes (the keys analyze writes).
json minimal_analysis() {
  return {{"tool", {{"name", "ctscope"}, {"version", "0.1.0"}, {"schema_version", 1}}},
          {"model", {{"path", "/models/m.gguf"}}},
          {"settings", json::object()},
          {"summary", {{"fits", json::array()}}},
          {"matrices", json::array()},
          {"layers", json::array()},
          {"roles", json::array()}};
}

// The smallest results of finetune and finetune-compare the report takes (the
// keys of the agreed schema; "model" is a path there, not an object).
json minimal_finetune() {
  const json eval = {{"ppl", 12.5}, {"ppl_stderr", 0.3}, {"scored_tokens", 100}, {"chunks", 2}, {"ctx", 64}};
  return {{"tool", {{"name", "ctscope"}, {"schema_version", 1}}},
          {"model", "/models/stories260K.bin"},
          {"settings", {{"trainable", "amplitudes"}, {"K", 8}, {"basis", "gaussian"}}},
          {"params", {{"trainable", 1}, {"stored", 2}, {"total", 3}}},
          {"before", eval},
          {"after", eval},
          {"training_log", json::array({{{"step", 0}, {"train_loss", 2.0}}})}};
}
json minimal_finetune_compare() {
  return {{"tool", {{"name", "ctscope"}, {"schema_version", 1}}},
          {"model", "/models/stories260K.bin"},
          {"settings", {{"K", {8}}, {"bases", {"gaussian"}}}},
          {"floors", json::object()},
          {"finetune_rows", json::array()}};
}

// The message of the Error classify_result throws ("" when it accepts).
std::string classify_error(const json& j) {
  try {
    report::classify_result("r.json", j);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ResultFile, RecognizesAnalysisAndCompressionByTheirKeys) {
  EXPECT_EQ(report::classify_result("a.json", minimal_analysis()).kind, "analysis");
  json c = {{"tool", {{"name", "ctscope"}}}, {"model", json::object()}, {"settings", json::object()},
            {"floors", json::object()}, {"variants", json::array()}};
  EXPECT_EQ(report::classify_result("c.json", c).kind, "compression");  // no schema_version: version 1
}

TEST(ResultFile, RecognizesFinetuneAndFinetuneCompareByTheirKeys) {
  EXPECT_EQ(report::classify_result("f.json", minimal_finetune()).kind, "finetune");
  EXPECT_EQ(report::classify_result("fc.json", minimal_finetune_compare()).kind, "finetune-compare");
  // finetune-compare's rows carry their own training logs: only a top-level "training_log" makes a finetune result.
  json fc = minimal_finetune_compare();
  fc["finetune_rows"].push_back({{"variant", "K=8 full"}, {"training_log", json::array()}});
  EXPECT_EQ(report::classify_result("fc.json", fc).kind, "finetune-compare");
}

TEST(ResultFile, NamesTheWrongKeyOfAFinetuneResult) {
  json j = minimal_finetune();
  j.erase("after");
  EXPECT_EQ(classify_error(j), "r.json: 'after' is missing, not an object (in a result of finetune)");
  j = minimal_finetune();
  j["params"] = 3;
  EXPECT_EQ(classify_error(j), "r.json: 'params' is a number, not an object (in a result of finetune)");
  j = minimal_finetune();
  j["training_log"] = json::object();
  EXPECT_EQ(classify_error(j), "r.json: 'training_log' is an object, not an array (in a result of finetune)");
  j = minimal_finetune_compare();
  j["settings"] = json::array();
  EXPECT_EQ(classify_error(j), "r.json: 'settings' is an array, not an object (in a result of finetune-compare)");
  j = minimal_finetune_compare();
  j["finetune_rows"] = nullptr;
  EXPECT_EQ(classify_error(j), "r.json: 'finetune_rows' is a null, not an array (in a result of finetune-compare)");
  j = minimal_finetune_compare();
  j["tool"]["schema_version"] = 2;
  EXPECT_NE(classify_error(j).find("r.json: unknown schema version: 'tool.schema_version' is 2;"), std::string::npos);
}

TEST(ResultFile, NamesTheWrongKey) {
  EXPECT_EQ(classify_error(json::array()), "r.json: not a ctscope result: the JSON is an array, not an object");
  EXPECT_EQ(classify_error({{"matrices", json::array()}}), "r.json: not a ctscope result: no 'tool' key");
  json j = minimal_analysis();
  j["tool"]["name"] = "other";
  EXPECT_EQ(classify_error(j), "r.json: not a ctscope result: 'tool.name' is \"other\", not \"ctscope\"");
  j = minimal_analysis();
  j["tool"]["schema_version"] = 2;
  EXPECT_NE(classify_error(j).find("r.json: unknown schema version: 'tool.schema_version' is 2;"), std::string::npos);
  j["tool"]["schema_version"] = "1";
  EXPECT_NE(classify_error(j).find("'tool.schema_version' is \"1\""), std::string::npos);
  j = minimal_analysis();
  j["layers"] = json::object();
  EXPECT_EQ(classify_error(j), "r.json: 'layers' is an object, not an array (in a result of analyze)");
  j = minimal_analysis();
  j.erase("summary");
  EXPECT_EQ(classify_error(j), "r.json: 'summary' is missing, not an object (in a result of analyze)");
  // A ctscope result of a kind the report does not show.
  EXPECT_NE(classify_error({{"tool", {{"name", "ctscope"}}}, {"ppl", 3.0}}).find("an `eval` result ('ppl')"),
            std::string::npos);
  EXPECT_EQ(classify_error({{"tool", {{"name", "ctscope"}}}, {"tensors", json::array()}}),
            "r.json: a ctscope result of no kind the report shows: it has no key 'matrices' (analyze), "
            "'variants' (eval-compression), 'training_log' (finetune), 'finetune_rows' (finetune-compare)");
}

TEST(ResultFile, RefusesTextThatIsNotJsonAndDeepNesting) {
  const auto bad = write_temp("report_not_json.json", std::string("{\"tool\": "));
  try {
    report::read_result_files(bad.string());
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("report_not_json.json: not JSON (a syntax error at byte"), std::string::npos)
        << e.what();
  }
  const auto deep = write_temp("report_deep.json", std::string(100000, '['));
  EXPECT_THROW(report::read_result_files(deep.string()), Error);
}

TEST(ReportCli, ABadResultIsOneLineExit2AndNoFile) {
  TempDir dir("report_cli");
  const auto good = dir / "good.json";
  write_bytes(good, minimal_analysis().dump());
  for (const auto& [content, key] : std::vector<std::pair<std::string, std::string>>{
           {"[1, 2", "not JSON"},
           {R"({"tool": {"name": "ctscope", "schema_version": 9}, "matrices": []})", "'tool.schema_version' is 9"},
           {R"({"tool": {"name": "ctscope"}, "whatever": []})", "no key 'matrices'"},
           {R"({"tool": {"name": "ctscope"}, "training_log": [], "settings": {}, "params": {}, "before": {}})",
            "'after' is missing, not an object (in a result of finetune)"},
           {R"({"name": "x"})", "no 'tool' key"}}) {
    const auto bad = dir / "bad.json";
    write_bytes(bad, content);
    const auto out = dir / "out.html";
    const CliRun r = run_cli("report " + good.string() + " " + bad.string() + " -o " + out.string());
    EXPECT_EQ(r.code, 2) << content;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("ctscope: error: " + bad.string() + ": "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(key), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out)) << content;
  }
}

TEST(ReportCli, SvgWithoutNodeIsOneLineExit2AndNothingWritten) {
  TempDir dir("report_svg");
  const auto good = dir / "good.json";
  write_bytes(good, minimal_analysis().dump());
  const fs::path html = dir / "p.html", figs = dir / "figs";
  // ctscope looks for node on its own PATH: one without it.
  TempDir io("report_svg_io");
  const std::string cmd = "env PATH=/nonexistent " + std::string(CTSCOPE_BINARY) + " report " + good.string() +
                          " -o " + html.string() + " --svg " + figs.string() + " 2>" + (io / "err").string();
  const int status = std::system(cmd.c_str());
  const CliRun r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, "", slurp(io / "err")};
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--svg needs Node.js"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(html));
  EXPECT_FALSE(fs::exists(figs));
}

// The page split as a browser's parser does: the bodies of its <script>
// elements (each ends at the first "</script"), and the HTML outside them.
struct PageParts {
  std::vector<std::string> scripts;
  std::string html;
};
PageParts split_page(const std::string& page) {
  PageParts parts;
  size_t at = 0;
  for (size_t open = page.find("<script", at); open != std::string::npos; open = page.find("<script", at)) {
    const size_t body = page.find('>', open) + 1, close = page.find("</script", body);
    parts.html += page.substr(at, body - at);
    parts.scripts.push_back(page.substr(body, close - body));
    at = close;
  }
  parts.html += page.substr(at);
  return parts;
}

TEST(HtmlReport, ThePageIsSelfContainedAndEmbedsTheResults) {
  if (!report::charting_available()) GTEST_SKIP() << "built without web/node_modules (scripts/install-deps.sh)";
  json r = minimal_analysis();
  r["model"]["path"] = "/x/</script><script>alert(1)</script>";  // must stay data
  const std::string page = report::html_report({report::classify_result("r.json", r)});
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  // Five scripts (data, Vega, Vega-Lite, vega-embed, the page's): the bundles' own
  // "</script" are escaped, so each element ends where it should.
  const PageParts parts = split_page(page);
  ASSERT_EQ(parts.scripts.size(), 5u);
  EXPECT_NE(parts.scripts[4].find("ctscopeReport"), std::string::npos);
  EXPECT_EQ(parts.html.rfind("</html>"), parts.html.size() - 8);
  // Nothing loads from elsewhere: no tag outside the scripts has a src or href, no
  // CSS import, and a Content-Security-Policy forbids any request the code could
  // still make (the browser test sees none).
  for (const std::string tag : {"<script", "<link", "<img", "<iframe", "<object", "<embed", "<base"})
    for (size_t at = parts.html.find(tag); at != std::string::npos; at = parts.html.find(tag, at + 1)) {
      const std::string t = parts.html.substr(at, parts.html.find('>', at) - at);
      EXPECT_EQ(t.find(" src"), std::string::npos) << t;
      EXPECT_EQ(t.find(" href"), std::string::npos) << t;
    }
  EXPECT_EQ(page.find("@import"), std::string::npos);
  EXPECT_NE(parts.html.find("content=\"default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src "
                            "'unsafe-inline'; img-src data: blob:\""),
            std::string::npos);
  const auto& bodies = parts.scripts;
  // The data script is the payload, exactly.
  const json embedded = json::parse(bodies[0]);
  EXPECT_EQ(embedded["results"][0]["result"], r);
  EXPECT_EQ(embedded["results"][0]["kind"], "analysis");
  EXPECT_EQ(embedded["charting"], report::charting_versions());
  EXPECT_NE(page.find("Third-party licenses"), std::string::npos);
}

// A finetune result names its model by a plain path: the page's title shows the model, not the file.
TEST(HtmlReport, TheTitleNamesTheModelOfAFinetuneResult) {
  if (!report::charting_available()) GTEST_SKIP() << "built without web/node_modules (scripts/install-deps.sh)";
  const std::string page = report::html_report({report::classify_result("/runs/f.json", minimal_finetune()),
                                               report::classify_result("/runs/fc.json", minimal_finetune_compare())});
  EXPECT_NE(page.find("<title>ctscope report: stories260K.bin</title>"), std::string::npos);
  const json embedded = json::parse(split_page(page).scripts[0]);
  EXPECT_EQ(embedded["results"][0]["kind"], "finetune");
  EXPECT_EQ(embedded["results"][1]["kind"], "finetune-compare");
}

// --html is `ctscope report` of the --json result: the same page but for the time it was written.
TEST(ReportCli, AnalyzeHtmlIsTheReportOfItsJson) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  if (!report::charting_available()) GTEST_SKIP() << "built without web/node_modules (scripts/install-deps.sh)";
  TempDir dir("report_html");
  const std::string j = (dir / "a.json").string(), h1 = (dir / "a.html").string(), h2 = (dir / "b.html").string();
  ASSERT_EQ(run_cli("analyze " + (kModels / "stories260K.bin").string() + " --K 2 --no-svd -q --json " + j +
                    " --html " + h1).code, 0);
  const CliRun r = run_cli("report " + j + " -o " + h2);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto undated = [](std::string page) {
    const size_t at = page.find("\"date_utc\":\"");
    return at == std::string::npos ? page : page.erase(at, page.find('"', at + 12) + 1 - at);
  };
  const std::string p1 = slurp(h1);
  EXPECT_NE(p1.find("\"date_utc\""), std::string::npos);
  EXPECT_EQ(undated(p1), undated(slurp(h2)));
}

// A result of several models (`analyze A B`) reads as one result per model,
// and `analyze A B --html` is the report of its own --json.
TEST(ReportCli, AResultOfSeveralModelsIsOneResultPerModel) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  if (!report::charting_available()) GTEST_SKIP() << "built without web/node_modules (scripts/install-deps.sh)";
  TempDir dir("report_many");
  const std::string j = (dir / "m.json").string(), h1 = (dir / "a.html").string(), h2 = (dir / "b.html").string();
  const std::string a = (kModels / "stories260K.bin").string(), b = tiny_synthetic_model().string();
  ASSERT_EQ(run_cli("analyze " + a + " " + b + " --K 2 --no-svd -q --json " + j + " --html " + h1).code, 0);
  const auto results = report::read_result_files(j);
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) EXPECT_EQ(r.kind, "analysis");
  EXPECT_EQ(results[0].file, j + " (" + a + ")");
  EXPECT_EQ(results[1].result["model"]["path"], b);
  const CliRun r = run_cli("report " + j + " -o " + h2);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto undated = [](std::string page) {
    const size_t at = page.find("\"date_utc\":\"");
    return at == std::string::npos ? page : page.erase(at, page.find('"', at + 12) + 1 - at);
  };
  EXPECT_EQ(undated(slurp(h1)), undated(slurp(h2)));
}

}  // namespace
}  // namespace ctscope
