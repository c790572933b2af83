// ctscope report RESULT.json... -o report.html: the HTML report (figures,
// tables, glossary) of analyze, eval-compression, finetune and
// finetune-compare results, of one model or several side by side, and --svg
// DIR for the figures as files.
#include <iostream>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "report/html_report.hpp"
#include "report/result_file.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"

namespace ctscope::cli {
namespace {

struct Opts {
  std::vector<std::string> results;
  std::string html, svg;
  bool quiet = false;
};

int run(const Opts& o) {
  if (o.html.empty() && o.svg.empty()) throw Error("ctscope report: name an output: -o report.html and/or --svg DIR");
  if (o.svg == "-") fail("--svg -", "figure files go to a folder: name one");
  // Every input is checked before anything is written.
  std::vector<report::ResultFile> results;
  for (const auto& f : o.results) {
    auto read = report::read_result_files(f);
    results.insert(results.end(), std::make_move_iterator(read.begin()), std::make_move_iterator(read.end()));
  }
  const std::string page = o.html.empty() ? "" : report::html_report(results);
  std::vector<std::string> svgs;
  if (!o.svg.empty()) svgs = report::write_report_svgs(results, o.svg);
  if (!o.html.empty()) write_file_atomic(o.html, page);
  if (o.quiet) return 0;
  if (!o.html.empty() && !is_stdout_name(o.html))
    std::cout << fmt::format("{}: the report of {} result{} ({:.1f} MB); open it in a browser, no network needed\n",
                             o.html, results.size(), results.size() == 1 ? "" : "s", static_cast<double>(page.size()) / 1e6);
  if (!o.svg.empty()) std::cout << fmt::format("{}: {} figure{} ({})\n", o.svg, svgs.size(), svgs.size() == 1 ? "" : "s",
                                               fmt::join(svgs, ", "));
  return 0;
}

const RegisterCommand reg(
    "report",
    "One self-contained HTML page of figures and tables from analyze, eval-compression, finetune and "
    "finetune-compare results (--json), of one model or several side by side; opens offline, embeds the results",
    80, [](CLI::App& sub) -> Action {
      auto o = std::make_shared<Opts>();
      sub.add_option("RESULT", o->results,
                     "JSON results of `analyze`, `eval-compression`, `finetune` and `finetune-compare` (--json), any "
                     "mix, one model or several")
          ->required();
      add_output_option(sub, "-o,--output", o->html, "write the HTML page to FILE ('-': stdout)");
      sub.add_option("--svg", o->svg,
                     "also write each figure as DIR/<figure>.svg (for papers and slides); needs Node.js (`node`)");
      add_quiet_option(sub, o->quiet);
      sub.footer(examples({"ctscope analyze stories260K.bin --json s.json && ctscope report s.json -o report.html",
                           "ctscope report tinyllama.json llama7b.json compression.json -o compare.html --svg figures/",
                           "ctscope report ft-K8.json ft-K16.json finetune-compare.json -o finetune.html"}));
      return [o]() { return run(*o); };
    });

}  // namespace
}  // namespace ctscope::cli
