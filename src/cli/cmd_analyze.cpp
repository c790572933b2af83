// ctscope analyze MODEL: the CT analysis of docs/ct-analysis.md.
#include <iostream>
#include <memory>
#include <optional>

#include "cli/command.hpp"
#include "ct/analysis_journal.hpp"
#include "ct/model_analysis.hpp"
#include "ctfile/ct_reader.hpp"
#include "dist/distributed_analysis.hpp"
#include "report/analysis_report.hpp"
#include "report/html_report.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/progress.hpp"
#include "util/json_text.hpp"

namespace ctscope::cli {
namespace {

struct Opts {
  std::string model, json, csv, markdown, journal, html;
  bool no_svd = false, quiet = false;
  ProgressMode progress = ProgressMode::Auto;
  ct::AnalysisSettings s;  // bound to the options; --no-svd and the K order settled after parsing
  report::ReportOptions view;
};

int run(const Opts& o) {
  ct::AnalysisSettings s = o.s;
  s.Ks = sorted_unique(s.Ks);
  s.svd_baseline = !o.no_svd;
  // Fail on unwritable outputs before the long run starts.
  for (const auto* p : {&o.json, &o.csv, &o.markdown, &o.html})
    if (!p->empty()) check_writable(*p);
  if (!o.html.empty()) report::require_charting();
  if (o.journal == "-") throw Error("--journal: give a file (the journal is read back on a rerun), not '-'");
  auto open_model = [&o]() {
    Checkpoint ck = Checkpoint::open(o.model);
    ctfile::require_dense(ck, "analyze",
                          "analyze the source model, or `ctscope reconstruct " + o.model + " -o DIR` and analyze DIR");
    return ck;
  };
  ProgressBar bar(progress_mode(o.progress, o.quiet));
  std::optional<ct::ModelAnalysis> result;
  if (dist::launched_ranks() > 0) {  // under mpirun: rank 0 reports, the others only compute
    try {
      result = dist::analyze_across_ranks({open_model, s, o.journal, bar.fn()});
    } catch (const dist::FailedElsewhere&) {
      return 2;
    }
    if (!result) return 0;
  } else {
    const Checkpoint ck = open_model();
    std::unique_ptr<ct::AnalysisJournal> journal;
    if (!o.journal.empty())
      journal = std::make_unique<ct::AnalysisJournal>(o.journal,
                                                      ct::journal_identity(ck, ct::plan_analysis(ck, s).out.settings));
    result = ct::analyze_model(ck, s, bar.fn(), journal.get());
  }
  const ct::ModelAnalysis& a = *result;
  const nlohmann::json json = report::analysis_json(a);
  if (!o.json.empty()) write_file_atomic(o.json, json_text(json, 1) + "\n");
  // The page `ctscope report` makes of the same JSON.
  if (!o.html.empty())
    write_file_atomic(o.html, report::html_report({report::classify_result(o.json.empty() ? o.model : o.json, json)}));
  if (!o.csv.empty()) write_file_atomic(o.csv, report::analysis_csv(a));
  if (!o.markdown.empty()) write_file_atomic(o.markdown, report::analysis_markdown(a, o.view));
  if (!o.quiet) std::cout << report::analysis_text(a, o.view);
  return 0;
}

const RegisterCommand reg(
    "analyze",
    "The CT analysis of Paper 68: Gaussian-basis fits of every weight row at each K, with the SVD (best) and "
    "random (null) baselines, amplitude and weight participation ratios, and the compression accounting",
    20, [](CLI::App& sub) -> Action {
      auto o = std::make_shared<Opts>();
      add_model_arg(sub, o->model);
      add_k_list_option(sub, o->s.Ks,
                        "comma-separated numbers of basis functions per row, e.g. --K 8,64. Default: relative to "
                        "the model, d/256 and d/32 rounded down to powers of two, with d the row length of most "
                        "selected rows (TinyLlama, d = 2048: 8,64, the paper's; stories260K, d = 64: 1,2). A matrix "
                        "with d < K is left out at that K only; one with K >= d is fitted exactly (trivial) and "
                        "left out of the verdicts")
          ->default_str("d/256,d/32");
      add_basis_list_option(sub, "--basis", o->s.bases,
                            "comma-separated bases, the first is the primary: gaussian (the paper's), dct, random "
                            "(null model, measured), svd (per-matrix optimum), universal (one shared basis per row "
                            "length)")
          ->default_str("gaussian");
      add_selection_options(sub, o->s.selection, "analyze");
      sub.add_flag("--spectrum", o->s.spectrum,
                   "also the full eigenvalue spectrum of every matrix (weight n95, PR over singular values); slower");
      sub.add_flag("--no-svd", o->no_svd, "skip the r2_svd baseline (faster)");
      add_seed_option(sub, o->s.seed);
      add_output_option(sub, "--json", o->json, "write the result as JSON (schema in the spec) to FILE ('-': stdout)");
      add_output_option(sub, "--csv", o->csv, "write one row per matrix, basis and K to FILE ('-': stdout)");
      add_output_option(sub, "--markdown", o->markdown, "write a Markdown report to FILE ('-': stdout)");
      add_output_option(sub, "--html", o->html,
                        "write the HTML report (figures, tables; `ctscope report` of the --json result) to FILE");
      sub.add_flag("--per-matrix", o->view.per_matrix,
                   "also a table of every matrix (shape, weight PR, stable rank, R² per basis and K), in the "
                   "terminal and --markdown; e.g. --per-matrix --sort r2 --top 10");
      sub.add_option("--sort", o->view.sort, "order of the --per-matrix table: order (as in the file), r2 (primary "
                                             "basis, largest K, best first), weight_pr (largest first), name")
          ->check(CLI::IsMember(report::per_matrix_sort_keys()))
          ->capture_default_str();
      sub.add_option("--top", o->view.top, "show only the first N rows of the --per-matrix table (0: all)")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str();
      sub.add_option("--journal", o->journal,
                     "append each finished matrix to FILE (fsync'ed); a rerun with the same FILE, model and "
                     "settings computes only the matrices missing, e.g. after a kill, and gives the same result. "
                     "A journal of another model or other settings is refused")
          ->type_name("FILE");
      add_quiet_option(sub, o->quiet);
      add_progress_option(sub, o->progress);
      sub.footer(examples({"ctscope analyze model.gguf --K 8,64 --basis gaussian,svd --json result.json",
                           "ctscope analyze ./Llama-3.2-1B --preset paper68 --csv - | column -s, -t",
                           "ctscope analyze model.gguf --journal run.journal --json result.json   # rerun resumes",
                           "mpirun -np 4 --bind-to none ctscope analyze model.gguf --json result.json"}) +
                 "\nExit status: 0 when at least one matrix was analyzed; a matrix that cannot be (NaN/Inf) is listed "
                 "under \"Not fitted\" and in the JSON's `skipped` with the reason. 2 when nothing could be fitted. "
                 "Extreme but finite values (1e20, 1e-30) are analyzed: the Gram pass rescales them exactly.\n");
      return [o]() { return run(*o); };
    });

}  // namespace
}  // namespace ctscope::cli
