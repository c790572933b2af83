// The one-screen terminal report, in the order of Paper 68: every fit beside
// its SVD and null baselines, amplitudes, weight PR by layer and role, the
// accounting, and the verdicts in plain words.
#include "report/analysis_report.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "report/analysis_common.hpp"
#include "util/format.hpp"

namespace ctscope::report {

using ct::ModelAnalysis;

namespace {

// "\nTitle                         K=8      K=64" with columns of `width`.
std::string column_head(const std::string& title, const std::vector<int>& Ks, int width) {
  std::string o = fmt::format("\n{:<34}", title);
  for (int K : Ks) o += fmt::format("{:>{}}", fmt::format("K={}", K), width);
  return o + "\n";
}

// "  label                          0.0033    0.0263": one value per K.
template <typename Fn>
std::string row_per_k(const ModelAnalysis& a, const std::string& label, Fn value) {
  std::string o = fmt::format("  {:<32}", label);
  for (size_t k = 0; k < a.settings.Ks.size(); ++k) o += value(k);
  return o + "\n";
}

std::string header(const ModelAnalysis& a) {
  std::string o = fmt::format("ctscope analyze  {}  ({}, {} tensors, {} parameters)\n", a.model_path, a.format,
                              a.tensors, with_commas(a.total_params));
  o += fmt::format("selection: {}: {} matrices, {} rows, {} parameters", a.selection, a.matrices.size(),
                   with_commas(a.rows), with_commas(a.analyzed_params));
  o += a.skipped.empty() ? "\n" : fmt::format("; {} tensors not fitted (see --json)\n", a.skipped.size());
  return o;
}

std::string fit_quality(const ModelAnalysis& a) {
  const auto& bases = a.settings.bases;
  const auto fit = [&](size_t b, size_t k) -> const ct::FitAggregate& { return a.model.fits[fit_index(a, b, k)]; };
  std::string o = column_head("Fit quality (pooled R^2)", a.settings.Ks, 10);
  for (size_t b = 0; b < bases.size(); ++b)
    o += row_per_k(a, fmt::format("{} basis", ct::basis_name(bases[b])),
                   [&](size_t k) { return fmt::format("{:>10.4f}", fit(b, k).pooled_r2()); });
  if (a.settings.svd_baseline)
    o += row_per_k(a, "best K-dim basis (SVD)", [&](size_t k) { return fmt::format("{:>10.4f}", fit(0, k).pooled_r2_svd()); });
  o += row_per_k(a, "random directions (null, K/d)",
                 [&](size_t k) { return fmt::format("{:>10.4f}", fit(0, k).pooled_r2_null()); });
  o += row_per_k(a, fmt::format("mean R^2 over matrices ({})", ct::basis_name(bases[0])),
                 [&](size_t k) { return fmt::format("{:>10.4f}", fit(0, k).mean_r2()); });
  return o;
}

std::string amplitudes(const ModelAnalysis& a) {
  const auto fit = [&](size_t k) -> const ct::FitAggregate& { return a.model.fits[fit_index(a, 0, k)]; };
  std::string o = column_head(fmt::format("Amplitudes ({})", ct::basis_name(a.settings.bases[0])), a.settings.Ks, 10);
  o += row_per_k(a, "mean amplitude PR", [&](size_t k) { return fmt::format("{:>10.2f}", fit(k).mean_amplitude_pr()); });
  o += row_per_k(a, "amplitude n95 (min-max)", [&](size_t k) {
    return fmt::format("{:>10}", fmt::format("{}-{}/{}", fit(k).amplitude_n95_min, fit(k).amplitude_n95_max, fit(k).K));
  });
  return o;
}

std::string weight_pr_by_layer(const ModelAnalysis& a) {
  if (a.layers.empty()) return "";
  std::vector<double> prs;
  for (const auto& g : a.layers) prs.push_back(g.mean_weight_pr());
  std::string o = fmt::format(
      "\nWeight PR by layer (centered, mean over the layer's matrices)\n  {}  L{}..L{}: {:.1f} .. {:.1f}\n",
      sparkline(prs), a.layers.front().layer, a.layers.back().layer, *std::min_element(prs.begin(), prs.end()),
      *std::max_element(prs.begin(), prs.end()));
  std::string line = "  ";
  for (size_t i = 0; i < a.layers.size(); ++i) {
    line += fmt::format("L{}:{:.1f}  ", a.layers[i].layer, prs[i]);
    if ((i + 1) % 6 == 0 || i + 1 == a.layers.size()) {
      o += line + "\n";
      line = "  ";
    }
  }
  return o;
}

std::string by_role(const ModelAnalysis& a) {
  std::string o = fmt::format("\n{:<16}{:>9}{:>11}", "By role", "matrices", "weight PR");
  for (int K : a.settings.Ks) o += fmt::format("{:>10}", fmt::format("R2 K={}", K));
  o += "\n";
  for (const auto& g : a.roles) {
    o += fmt::format("  {:<14}{:>9}{:>11.1f}", group_label(g), g.matrices, g.mean_weight_pr());
    for (size_t k = 0; k < a.settings.Ks.size(); ++k) o += fmt::format("{:>10.4f}", g.fits[fit_index(a, 0, k)].pooled_r2());
    o += "\n";
  }
  return o;
}

std::string accounting(const ModelAnalysis& a) {
  const auto acc = [&](size_t k) -> const ct::Accounting& { return a.accounting[fit_index(a, 0, k)]; };
  std::string o = column_head("Compression accounting", a.settings.Ks, 12);
  o += row_per_k(a, "amplitude parameters",
                 [&](size_t k) { return fmt::format("{:>12}", with_commas(acc(k).amplitude_params)); });
  o += row_per_k(a, "paper ratio (total / amplitudes)",
                 [&](size_t k) { return fmt::format("{:>11.1f}x", acc(k).compression_paper); });
  o += row_per_k(a, "analyzed / amplitudes", [&](size_t k) { return fmt::format("{:>11.1f}x", acc(k).compression_analyzed); });
  o += row_per_k(a, "storage (what a file must hold)",
                 [&](size_t k) { return fmt::format("{:>11.1f}x", acc(k).compression_storage); });
  return o;
}

std::string in_plain_words(const ModelAnalysis& a) {
  std::string o = "\nIn plain words:\n";
  for (size_t b = 0; b < a.settings.bases.size(); ++b)
    for (size_t k = 0; k < a.settings.Ks.size(); ++k) o += "  " + verdict(a.model.fits[fit_index(a, b, k)]) + "\n";
  return o;
}

std::string cost(const ModelAnalysis& a) {
  return fmt::format("\n{:.1f} s wall, peak RSS {:.0f} MB, {:.1f} MB streamed, {:.1f} GFLOP/s\n", a.wall_s,
                     a.peak_rss_mb, a.bytes_read / 1e6, a.wall_s > 0 ? a.flops / a.wall_s / 1e9 : 0.0);
}

}  // namespace

std::string analysis_text(const ModelAnalysis& a, bool /*color*/) {
  if (a.matrices.empty()) return header(a) + "nothing to analyze.\n";
  return header(a) + fit_quality(a) + amplitudes(a) + weight_pr_by_layer(a) + by_role(a) + accounting(a) +
         in_plain_words(a) + cost(a);
}

}  // namespace ctscope::report
