// ctscope analyze MODEL...: the CT analysis of docs/ct-analysis.md, of one
// model or of several side by side (report/multi_analysis.hpp).
#include <iostream>
#include <sstream>
#include <memory>
#include <optional>

#include "cli/command.hpp"
#include "ct/analysis_journal.hpp"
#include "ct/model_analysis.hpp"
#include "ctfile/ct_reader.hpp"
#include "dist/distributed_analysis.hpp"
#include "report/analysis_report.hpp"
#include "report/html_report.hpp"
#include "report/multi_analysis.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/progress.hpp"
#include "util/json_text.hpp"
#include "util/mapped_file.hpp"

namespace ctscope::cli {
namespace {

struct Opts {
  std::vector<std::string> models;
  std::string models_file, json, csv, markdown, journal, html;
  bool no_svd = false, quiet = false;
  int lanes = 0;  // 0: automatic (ct::analysis_lanes)
  ProgressMode progress = ProgressMode::Auto;
  ct::AnalysisSettings s;  // bound to the options; --no-svd and the K order settled after parsing
  report::ReportOptions view;
};

// --models FILE: one model per line; blank lines and lines starting with # are
// skipped. Mapped, so a FIFO or device is refused in one line, never waited on.
std::vector<std::string> read_model_list(const std::string& file) {
  const auto mapped = MappedFile::open(file);
  std::istringstream in{std::string(mapped->text())};
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    out.push_back(line.substr(start));
  }
  if (out.empty()) fail(file, "the --models list names no model");
  return out;
}

// A model analyze can read: dense weights (a .ct.safetensors is refused, with what to do instead).
Checkpoint open_dense_model(const std::string& model) {
  Checkpoint ck = Checkpoint::open(model);
  ctfile::require_dense(ck, "analyze",
                        "analyze the source model, or `ctscope reconstruct " + model + " -o DIR` and analyze DIR");
  return ck;
}

// One model: under mpirun across the ranks (nullopt on every rank but 0, which
// reports), else in this process, resuming from --journal when given.
std::optional<ct::ModelAnalysis> analyze_one(const std::string& model, const ct::AnalysisSettings& s, const Opts& o) {
  auto open_model = [&model]() { return open_dense_model(model); };
  ProgressBar bar(progress_mode(o.progress, o.quiet));
  if (dist::launched_ranks() > 0) return dist::analyze_across_ranks({open_model, s, o.journal, bar.fn()});
  const Checkpoint ck = open_model();
  std::unique_ptr<ct::AnalysisJournal> journal;
  if (!o.journal.empty())
    journal = std::make_unique<ct::AnalysisJournal>(o.journal, ct::journal_identity(ck, ct::plan_analysis(ck, s).out.settings));
  return ct::analyze_model(ck, s, bar.fn(), journal.get(), o.lanes);
}

// The page `ctscope report` makes of the same JSON results.
void write_html(const std::string& file, const std::vector<report::ResultFile>& results) {
  write_file_atomic(file, report::html_report(results));
}

// Several models: each analyzed in turn (one in memory at a time), then one
// result with a model column and the summaries side by side. Under mpirun
// every model is divided among all the ranks in turn, and rank 0 reports.
int run_many(const std::vector<std::string>& models, const ct::AnalysisSettings& s, const Opts& o) {
  // Every model readable before the long run; under mpirun each rank's
  // opening is checked by the distributed run, which names the rank.
  if (dist::launched_ranks() == 0)
    for (const auto& m : models) (void)open_dense_model(m);
  std::vector<ct::ModelAnalysis> runs;
  for (const auto& m : models)
    if (auto r = analyze_one(m, s, o)) runs.push_back(std::move(*r));
  if (runs.empty()) return 0;  // an MPI rank other than 0
  const nlohmann::json json = report::multi_analysis_json(runs);
  if (!o.json.empty()) write_file_atomic(o.json, json_text(json, 1) + "\n");
  if (!o.html.empty()) write_html(o.html, report::classify_results(o.json.empty() ? "analyze" : o.json, json));
  if (!o.csv.empty()) write_file_atomic(o.csv, report::multi_analysis_csv(runs));
  if (!o.markdown.empty()) write_file_atomic(o.markdown, report::multi_analysis_markdown(runs));
  if (!o.quiet) std::cout << report::multi_analysis_text(runs);
  return 0;
}

int run(const Opts& o) {
  ct::AnalysisSettings s = o.s;
  s.Ks = sorted_unique(s.Ks);
  s.svd_baseline = !o.no_svd;
  std::vector<std::string> models = o.models;
  if (!o.models_file.empty()) {
    const auto listed = read_model_list(o.models_file);
    models.insert(models.end(), listed.begin(), listed.end());
  }
  if (models.empty()) throw Error("analyze: MODEL is required, or --models LISTFILE (see ctscope analyze --help)");
  if (models.size() > 1 && !o.journal.empty())
    throw Error("analyze: --journal takes one model at a time; run one per model (mpirun takes several)");
  if (o.journal == "-") throw Error("--journal: give a file (the journal is read back on a rerun), not '-'");
  // Fail on unwritable outputs before the long run starts.
  for (const auto* p : {&o.json, &o.csv, &o.markdown, &o.html})
    if (!p->empty()) check_writable(*p);
  if (!o.html.empty()) report::require_charting();
  std::optional<ct::ModelAnalysis> result;
  try {
    if (models.size() > 1) return run_many(models, s, o);
    result = analyze_one(models.front(), s, o);
  } catch (const dist::FailedElsewhere&) {
    return 2;  // rank 0 said why, in one line
  }
  if (!result) return 0;  // an MPI rank other than 0
  const ct::ModelAnalysis& a = *result;
  const nlohmann::json json = report::analysis_json(a);
  if (!o.json.empty()) write_file_atomic(o.json, json_text(json, 1) + "\n");
  if (!o.html.empty()) write_html(o.html, report::classify_results(o.json.empty() ? models.front() : o.json, json));
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
      sub.add_option("MODEL", o->models,
                     "checkpoint(s): HF directory, .safetensors, .gguf, llama2.c .bin, a Hugging Face hub cache "
                     "folder or a repo id in that cache; several (e.g. a training trajectory) are analyzed in turn "
                     "into one result with a model column and the summaries side by side");
      sub.add_option("--models", o->models_file,
                     "a file listing models to analyze, one per line (# comments), after any MODEL given")
          ->check(CLI::ExistingFile);
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
      add_count_option(sub, "--top", o->view.top, 1 << 30, "show only the first N rows of the --per-matrix table (0: all)");
      sub.add_option("--journal", o->journal,
                     "append each finished matrix to FILE (fsync'ed); a rerun with the same FILE, model and "
                     "settings computes only the matrices missing, e.g. after a kill, and gives the same result. "
                     "A journal of another model or other settings is refused")
          ->type_name("FILE");
      add_count_option(sub, "--lanes", o->lanes, 4096,
                       "matrices analyzed side by side, each on one core (the numbers do not depend on it). 0: one "
                       "per core, or one matrix at a time on every core where that many lanes' buffers would pass "
                       "1 GB (Grams of side 8192, 70B); svd and universal bases always run one. Under mpirun each "
                       "rank runs one");
      add_quiet_option(sub, o->quiet);
      add_progress_option(sub, o->progress);
      sub.footer(examples({"ctscope analyze model.gguf --K 8,64 --basis gaussian,svd --json result.json",
                           "ctscope analyze ./Llama-3.2-1B --preset paper68 --csv - | column -s, -t",
                           "ctscope analyze model.gguf --journal run.journal --json result.json   # rerun resumes",
                           "mpirun -np 4 --bind-to none ctscope analyze model.gguf --json result.json",
                           "ctscope analyze ckpt/step-1000 ckpt/step-2000 ckpt/step-4000 --K 64 --csv trajectory.csv"}) +
                 "\nExit status: 0 when at least one matrix was analyzed; a matrix that cannot be (NaN/Inf) is listed "
                 "under \"Not fitted\" and in the JSON's `skipped` with the reason. 2 when nothing could be fitted. "
                 "Extreme but finite values (1e20, 1e-30) are analyzed: the Gram pass rescales them exactly.\n"
                 "\nEnvironment: BF16 Grams run on AMX where the CPU has it (CTSCOPE_NO_AMX=1 turns it off), else on "
                 "AVX-512 BF16 dot products on AMD CPUs that have them (CTSCOPE_AVX512BF16=1 or =0 forces them on or "
                 "off), else on OpenBLAS SSYRK in float; the JSON's timing.bf16_gram_kernel names the one used. The "
                 "numbers agree across them to the order of float sums.\n");
      return [o]() { return run(*o); };
    });

}  // namespace
}  // namespace ctscope::cli
