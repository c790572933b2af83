// ctscope analyze MODEL: the CT analysis of ../shared/spec/ct-analysis.md.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "ct/model_analysis.hpp"
#include "report/analysis_report.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"

namespace ctscope::cli {
namespace {

struct Opts {
  std::string model, K = "8,64", basis = "gaussian", json, csv, markdown;
  bool spectrum = false, no_svd = false, quiet = false;
  ct::AnalysisSettings s;  // selection and seed bound here; the rest filled in after parsing
};

// "[ 37/155] 24% model.layers.5.mlp.up_proj.weight  1.8 GB/s  ETA 7s" on one
// rewritten stderr line; only when stderr is a terminal.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : on_(enabled), t0_(std::chrono::steady_clock::now()) {}
  void operator()(size_t done, size_t total, const std::string& name, double bytes) {
    if (!on_) return;
    const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    const double eta = done ? el / static_cast<double>(done) * static_cast<double>(total - done) : 0;
    std::string label = name.size() > 44 ? "..." + name.substr(name.size() - 41) : name;
    std::fprintf(stderr, "\r\033[K[%*zu/%zu] %3.0f%% %-44s %5.2f GB/s  ETA %.0fs", static_cast<int>(std::to_string(total).size()),
                 done, total, 100.0 * static_cast<double>(done) / static_cast<double>(total), label.c_str(),
                 el > 0 ? bytes / el / 1e9 : 0.0, eta);
    if (done == total) std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }

 private:
  bool on_;
  std::chrono::steady_clock::time_point t0_;
};

const RegisterCommand reg(
    "analyze",
    "The CT analysis of Paper 68: Gaussian-basis fits of every weight row at each K, with the SVD (best) and "
    "random (null) baselines, amplitude and weight participation ratios, and the compression accounting",
    20, [](CLI::App& sub) -> Action {
      auto o = std::make_shared<Opts>();
      add_model_arg(sub, o->model);
      sub.add_option("--K", o->K, "comma-separated numbers of basis functions per row")->capture_default_str();
      sub.add_option("--basis", o->basis,
                     "comma-separated bases, the first is the primary: gaussian (the paper's), dct, random (null model, "
                     "measured), svd (per-matrix optimum), universal (one shared basis per row length)")
          ->capture_default_str();
      add_selection_options(sub, o->s, "analyze");
      sub.add_flag("--spectrum", o->spectrum, "also the full eigenvalue spectrum of every matrix (weight n95, PR over singular values); slower");
      sub.add_flag("--no-svd", o->no_svd, "skip the r2_svd baseline (faster)");
      sub.add_option("--seed", o->s.seed, "seed of the random basis")->capture_default_str();
      sub.add_option("--json", o->json, "write the result as JSON (schema in the spec) to FILE");
      sub.add_option("--csv", o->csv, "write one row per matrix, basis and K to FILE");
      sub.add_option("--markdown", o->markdown, "write a Markdown report to FILE");
      sub.add_flag("-q,--quiet", o->quiet, "no progress bar and no terminal report");
      return [o]() {
        ct::AnalysisSettings s = o->s;
        s.Ks = parse_k_list(o->K);
        s.bases = parse_basis_list(o->basis, "--basis");
        s.spectrum = o->spectrum;
        s.svd_baseline = !o->no_svd;
        // Fail on unwritable outputs before the long run starts.
        for (const auto* p : {&o->json, &o->csv, &o->markdown})
          if (!p->empty()) check_writable(*p);
        Checkpoint ck = Checkpoint::open(o->model);
        ProgressBar bar(!o->quiet && ::isatty(STDERR_FILENO));
        ct::ModelAnalysis a = ct::analyze_model(ck, s, std::ref(bar));
        if (!o->json.empty()) write_file_atomic(o->json, report::analysis_json(a).dump(1) + "\n");
        if (!o->csv.empty()) write_file_atomic(o->csv, report::analysis_csv(a));
        if (!o->markdown.empty()) write_file_atomic(o->markdown, report::analysis_markdown(a));
        if (!o->quiet) std::cout << report::analysis_text(a);
        return 0;
      };
    });

}  // namespace
}  // namespace ctscope::cli
