#include "report/multi_analysis.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "report/analysis_common.hpp"
#include "report/analysis_report.hpp"
#include "report/run_metadata.hpp"
#include "util/format.hpp"

namespace ctscope::report {

using ct::ModelAnalysis;

std::vector<std::string> model_labels(const std::vector<ModelAnalysis>& runs) {
  std::map<std::string, int> seen;
  std::vector<std::string> out;
  for (const auto& a : runs) {
    const int n = ++seen[a.model_path];
    out.push_back(n == 1 ? a.model_path : fmt::format("{} #{}", a.model_path, n));
  }
  return out;
}

namespace {

// Every (basis, K) some model fitted, in basis order then K order: models
// with different row lengths have different default K.
std::vector<std::pair<ct::BasisKind, int>> all_fits(const std::vector<ModelAnalysis>& runs) {
  std::vector<std::pair<ct::BasisKind, int>> out;
  for (const auto& a : runs)
    for (const auto& f : a.model.fits)
      if (std::find(out.begin(), out.end(), std::pair{f.basis, f.K}) == out.end()) out.emplace_back(f.basis, f.K);
  std::stable_sort(out.begin(), out.end(), [&](const auto& x, const auto& y) {
    if (x.first != y.first) return false;  // bases keep the order they were asked in
    return x.second < y.second;
  });
  return out;
}

// Index of (basis, K) in a's fits, or -1.
int find_fit(const ModelAnalysis& a, ct::BasisKind b, int K) {
  for (size_t i = 0; i < a.model.fits.size(); ++i)
    if (a.model.fits[i].basis == b && a.model.fits[i].K == K) return static_cast<int>(i);
  return -1;
}

// A CSV cell: quoted (quotes doubled) when it holds a comma, quote or newline.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

nlohmann::json multi_analysis_json(const std::vector<ModelAnalysis>& runs) {
  using nlohmann::json;
  const auto labels = model_labels(runs);
  json models = json::array(), comparison = json::array();
  double wall = 0, rss = 0;
  for (size_t m = 0; m < runs.size(); ++m) {
    const ModelAnalysis& a = runs[m];
    json one = analysis_json(a);
    one.erase("tool");  // once, at the top
    json entry = {{"label", labels[m]}};
    entry.update(one);
    models.push_back(std::move(entry));
    json fits = json::array();
    for (size_t i = 0; i < a.model.fits.size(); ++i) {
      const auto& f = a.model.fits[i];
      const auto& acc = a.accounting[i];
      fits.push_back({{"basis", ct::basis_name(f.basis)}, {"K", f.K}, {"pooled_r2", f.pooled_r2()},
                      {"pooled_r2_bound", a.settings.svd_baseline ? json(f.pooled_r2_bound()) : json(nullptr)},
                      {"pooled_r2_null", f.pooled_r2_null()}, {"mean_amplitude_pr", f.mean_amplitude_pr()},
                      {"compression_paper", acc.rows ? json(acc.compression_paper) : json(nullptr)}});
    }
    comparison.push_back({{"label", labels[m]}, {"params", a.total_params}, {"matrices", a.matrices.size()},
                          {"mean_weight_pr", a.model.mean_weight_pr()},
                          {"mean_stable_rank", a.model.mean_stable_rank()}, {"fits", fits}});
    wall += a.wall_s;
    rss = std::max(rss, a.peak_rss_mb);
  }
  return {{"tool", tool_json()},
          {"schema", "ctscope-analyze-multi/1"},
          {"models", models},
          {"comparison", comparison},
          {"timing", {{"wall_s", wall}, {"peak_rss_mb", rss}}}};
}

std::string multi_analysis_csv(const std::vector<ModelAnalysis>& runs) {
  const auto labels = model_labels(runs);
  std::string out;
  for (size_t m = 0; m < runs.size(); ++m) {
    const std::string csv = analysis_csv(runs[m]);
    const size_t eol = csv.find('\n');
    if (m == 0) out += "model," + csv.substr(0, eol + 1);
    const std::string cell = csv_field(labels[m]);
    for (size_t pos = eol + 1; pos < csv.size();) {
      const size_t next = csv.find('\n', pos);
      out += cell + "," + csv.substr(pos, next - pos + 1);
      pos = next + 1;
    }
  }
  return out;
}

Table multi_summary_table(const std::vector<ModelAnalysis>& runs) {
  Table t;
  t.title = "Summary, side by side (pooled over each model's analyzed matrices)";
  t.head.push_back("metric");
  for (const auto& l : model_labels(runs)) t.head.push_back(l);
  auto row = [&](std::string name, auto cell) {
    std::vector<std::string> r{std::move(name)};
    for (const auto& a : runs) r.push_back(cell(a));
    t.rows.push_back(std::move(r));
  };
  row("parameters", [](const ModelAnalysis& a) { return with_commas(a.total_params); });
  row("matrices", [](const ModelAnalysis& a) { return std::to_string(a.matrices.size()); });
  row("mean weight PR", [](const ModelAnalysis& a) { return fmt::format("{:.1f}", a.model.mean_weight_pr()); });
  row("mean stable rank", [](const ModelAnalysis& a) { return fmt::format("{:.1f}", a.model.mean_stable_rank()); });
  for (const auto& fit : all_fits(runs)) {  // (no structured binding: the lambdas below capture it)
    const ct::BasisKind basis = fit.first;
    const int K = fit.second;
    const std::string tag = fmt::format("{} K={}", ct::basis_name(basis), K);
    auto metric = [&](const std::string& what, auto value) {
      row(tag + " " + what, [&](const ModelAnalysis& a) {
        const int i = find_fit(a, basis, K);
        return i < 0 || a.model.fits[static_cast<size_t>(i)].matrices() == 0 ? std::string("-") : value(a, static_cast<size_t>(i));
      });
    };
    metric("pooled R²", [](const ModelAnalysis& a, size_t i) { return pct(a.model.fits[i].pooled_r2()); });
    metric("bound", [](const ModelAnalysis& a, size_t i) {
      return a.settings.svd_baseline ? pct(a.model.fits[i].pooled_r2_bound()) : std::string("-");
    });
    metric("null", [](const ModelAnalysis& a, size_t i) { return pct(a.model.fits[i].pooled_r2_null()); });
    metric("amplitude PR", [](const ModelAnalysis& a, size_t i) {
      return fmt::format("{:.2f}", a.model.fits[i].mean_amplitude_pr());
    });
    metric("compression", [](const ModelAnalysis& a, size_t i) {
      return fmt::format("{:.1f}x", a.accounting[i].compression_paper);
    });
  }
  t.notes.push_back("'-': not fitted in that model (another row length gives other default K; choose one K with --K).");
  return t;
}

std::string multi_analysis_text(const std::vector<ModelAnalysis>& runs) {
  std::string o = fmt::format("ctscope analyze  {} models\n", runs.size());
  const auto labels = model_labels(runs);
  double wall = 0, rss = 0;
  for (size_t m = 0; m < runs.size(); ++m) {
    const ModelAnalysis& a = runs[m];
    o += fmt::format("  {}  ({}, {} tensors; {}; {})\n", labels[m], a.format, a.tensors,
                     plural(static_cast<int64_t>(a.matrices.size()), "matrix", "matrices"), k_line(a));
    wall += a.wall_s;
    rss = std::max(rss, a.peak_rss_mb);
  }
  o += render_text(multi_summary_table(runs));
  return o + fmt::format("\n{:.1f} s wall, peak RSS {:.0f} MB\n", wall, rss);
}

std::string multi_analysis_markdown(const std::vector<ModelAnalysis>& runs) {
  std::string md = fmt::format("# CT analysis of {} models\n\n", runs.size());
  const auto labels = model_labels(runs);
  for (size_t m = 0; m < runs.size(); ++m)
    md += fmt::format("- `{}`: {} format, {} parameters. {}\n", labels[m], runs[m].format, runs[m].total_params,
                      k_line(runs[m]));
  return md + render_markdown(multi_summary_table(runs));
}

}  // namespace ctscope::report
