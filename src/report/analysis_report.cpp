#include "report/analysis_report.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "util/format.hpp"

namespace ctscope::report {

using ct::BasisKind;
using ct::FitAggregate;
using ct::ModelAnalysis;

namespace {

nlohmann::json layer_or_null(int layer) { return layer >= 0 ? nlohmann::json(layer) : nlohmann::json(nullptr); }

// Index of the fit for (basis, K) in the basis-major ordering.
size_t fit_index(const ModelAnalysis& a, size_t basis_i, size_t k_i) { return basis_i * a.settings.Ks.size() + k_i; }

std::string pct(double x) { return fmt::format("{:.1f}%", 100 * x); }



std::string group_label(const ct::GroupSummary& g) {
  return g.layer >= 0 ? fmt::format("L{}", g.layer) : std::string(role_name(g.role));
}

}  // namespace

std::string sparkline(const std::vector<double>& v) {
  static const char* bars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  if (v.empty()) return "";
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  std::string s;
  for (double x : v) {
    int i = *hi > *lo ? static_cast<int>(std::lround(7 * (x - *lo) / (*hi - *lo))) : 3;
    s += bars[std::clamp(i, 0, 7)];
  }
  return s;
}

std::string verdict(const FitAggregate& f) {
  const double r2 = f.pooled_r2(), svd = f.pooled_r2_svd(), null = f.pooled_r2_null();
  std::string judgement;
  if (r2 <= null * 1.5 + 1e-12) judgement = "no better than random directions: the basis finds no structure";
  else if (svd > 0 && r2 >= 0.9 * svd) judgement = "close to the best possible K-dim basis";
  else if (svd > 0) judgement = fmt::format("{:.0f}% of what the best K-dim basis achieves", 100 * r2 / svd);
  return fmt::format("{} K={} captures {} of the variance; the best {}-dim basis would capture {}; random "
                     "directions {}. Verdict: {}.",
                     ct::basis_name(f.basis), f.K, pct(r2), f.K, pct(svd), pct(null), judgement);
}

std::string analysis_text(const ModelAnalysis& a, bool /*color*/) {
  std::string o;
  const auto& Ks = a.settings.Ks;
  const auto& bases = a.settings.bases;
  o += fmt::format("ctscope analyze  {}  ({}, {} tensors, {} parameters)\n", a.model_path, a.format, a.tensors,
                   with_commas(a.total_params));
  o += fmt::format("selection: {}: {} matrices, {} rows, {} parameters", a.selection, a.matrices.size(),
                   with_commas(a.rows), with_commas(a.analyzed_params));
  o += a.skipped.empty() ? "\n" : fmt::format("; {} tensors not fitted (see --json)\n", a.skipped.size());
  if (a.matrices.empty()) return o + "nothing to analyze.\n";

  // 1. Fit quality beside the baselines.
  std::string head = fmt::format("\n{:<34}", "Fit quality (pooled R^2)");
  for (int K : Ks) head += fmt::format("{:>10}", fmt::format("K={}", K));
  o += head + "\n";
  for (size_t b = 0; b < bases.size(); ++b) {
    std::string row = fmt::format("  {:<32}", fmt::format("{} basis", ct::basis_name(bases[b])));
    for (size_t k = 0; k < Ks.size(); ++k) row += fmt::format("{:>10.4f}", a.model.fits[fit_index(a, b, k)].pooled_r2());
    o += row + "\n";
  }
  if (a.settings.svd_baseline) {
    std::string row = fmt::format("  {:<32}", "best K-dim basis (SVD)");
    for (size_t k = 0; k < Ks.size(); ++k) row += fmt::format("{:>10.4f}", a.model.fits[fit_index(a, 0, k)].pooled_r2_svd());
    o += row + "\n";
  }
  {
    std::string row = fmt::format("  {:<32}", "random directions (null, K/d)");
    for (size_t k = 0; k < Ks.size(); ++k) row += fmt::format("{:>10.4f}", a.model.fits[fit_index(a, 0, k)].pooled_r2_null());
    o += row + "\n";
    row = fmt::format("  {:<32}", fmt::format("mean R^2 over matrices ({})", ct::basis_name(bases[0])));
    for (size_t k = 0; k < Ks.size(); ++k) row += fmt::format("{:>10.4f}", a.model.fits[fit_index(a, 0, k)].mean_r2());
    o += row + "\n";
  }

  // 2. Amplitudes.
  o += fmt::format("\n{:<34}", fmt::format("Amplitudes ({})", ct::basis_name(bases[0])));
  for (int K : Ks) o += fmt::format("{:>10}", fmt::format("K={}", K));
  o += "\n";
  std::string pr = fmt::format("  {:<32}", "mean amplitude PR"), n95 = fmt::format("  {:<32}", "amplitude n95 (min-max)");
  for (size_t k = 0; k < Ks.size(); ++k) {
    const auto& f = a.model.fits[fit_index(a, 0, k)];
    pr += fmt::format("{:>10.2f}", f.mean_amplitude_pr());
    n95 += fmt::format("{:>10}", fmt::format("{}-{}/{}", f.amplitude_n95_min, f.amplitude_n95_max, f.K));
  }
  o += pr + "\n" + n95 + "\n";

  // 3. Weight PR by layer.
  if (!a.layers.empty()) {
    std::vector<double> prs;
    for (const auto& g : a.layers) prs.push_back(g.mean_weight_pr());
    o += fmt::format("\nWeight PR by layer (centered, mean over the layer's matrices)\n  {}  L{}..L{}: {:.1f} .. {:.1f}\n",
                     sparkline(prs), a.layers.front().layer, a.layers.back().layer,
                     *std::min_element(prs.begin(), prs.end()), *std::max_element(prs.begin(), prs.end()));
    std::string line = "  ";
    for (size_t i = 0; i < a.layers.size(); ++i) {
      line += fmt::format("L{}:{:.1f}  ", a.layers[i].layer, prs[i]);
      if ((i + 1) % 6 == 0 || i + 1 == a.layers.size()) {
        o += line + "\n";
        line = "  ";
      }
    }
  }

  // 4. By role.
  o += fmt::format("\n{:<16}{:>9}{:>11}", "By role", "matrices", "weight PR");
  for (int K : Ks) o += fmt::format("{:>10}", fmt::format("R2 K={}", K));
  o += "\n";
  for (const auto& g : a.roles) {
    o += fmt::format("  {:<14}{:>9}{:>11.1f}", group_label(g), g.matrices, g.mean_weight_pr());
    for (size_t k = 0; k < Ks.size(); ++k) o += fmt::format("{:>10.4f}", g.fits[fit_index(a, 0, k)].pooled_r2());
    o += "\n";
  }

  // 5. Accounting.
  o += fmt::format("\n{:<34}", "Compression accounting");
  for (int K : Ks) o += fmt::format("{:>12}", fmt::format("K={}", K));
  o += "\n";
  auto acc_row = [&](const char* label, auto fn) {
    std::string row = fmt::format("  {:<32}", label);
    for (size_t k = 0; k < Ks.size(); ++k) row += fn(a.accounting[fit_index(a, 0, k)]);
    o += row + "\n";
  };
  acc_row("amplitude parameters", [](const ct::Accounting& x) { return fmt::format("{:>12}", with_commas(x.amplitude_params)); });
  acc_row("paper ratio (total / amplitudes)", [](const ct::Accounting& x) { return fmt::format("{:>11.1f}x", x.compression_paper); });
  acc_row("analyzed / amplitudes", [](const ct::Accounting& x) { return fmt::format("{:>11.1f}x", x.compression_analyzed); });
  acc_row("storage (what a file must hold)", [](const ct::Accounting& x) { return fmt::format("{:>11.1f}x", x.compression_storage); });

  // 6. Verdicts.
  o += "\nIn plain words:\n";
  for (size_t b = 0; b < bases.size(); ++b)
    for (size_t k = 0; k < Ks.size(); ++k) o += "  " + verdict(a.model.fits[fit_index(a, b, k)]) + "\n";
  o += fmt::format("\n{:.1f} s wall, peak RSS {:.0f} MB, {:.1f} MB streamed, {:.1f} GFLOP/s\n", a.wall_s, a.peak_rss_mb,
                   a.bytes_read / 1e6, a.wall_s > 0 ? a.flops / a.wall_s / 1e9 : 0.0);
  return o;
}

nlohmann::json analysis_json(const ModelAnalysis& a) {
  using nlohmann::json;
  const auto& s = a.settings;
  json bases = json::array();
  for (auto b : s.bases) bases.push_back(ct::basis_name(b));
  json fit_json_list = json::array();
  auto fit_json = [&](const ct::FitResult& f) {
    return json{{"basis", ct::basis_name(f.basis)}, {"K", f.K}, {"sse", f.sse}, {"r2", f.r2}, {"r2_svd", f.r2_svd},
                {"r2_null", f.r2_null}, {"amplitude_pr", f.amplitude_pr}, {"amplitude_n95", f.amplitude_n95}};
  };
  json matrices = json::array();
  for (const auto& m : a.matrices) {
    const auto& r = m.result;
    json fits = json::array();
    for (const auto& f : r.fits) fits.push_back(fit_json(f));
    json jm = {{"name", m.name}, {"layer", layer_or_null(m.layer)}, {"role", role_name(m.role)},
               {"dtype", dtype_name(m.dtype)}, {"shape", {r.n, r.d}}, {"params", r.n * r.d}, {"sst", r.sst},
               {"weight_pr", r.weight_pr}, {"stable_rank", r.stable_rank}, {"fits", fits},
               {"cost", {{"gram_s", r.gram_s}, {"eigen_s", r.eigen_s}, {"fit_s", r.fit_s}, {"krylov_dim", r.krylov_dim},
                         {"gflop", r.flops / 1e9}}}};
    if (r.spectrum) {
      jm["spectrum"] = {{"weight_n95", r.spectrum->weight_n95}, {"weight_pr_sv", r.spectrum->weight_pr_sv},
                        {"eigenvalues", r.spectrum->eigenvalues}};
    }
    matrices.push_back(std::move(jm));
  }
  auto group_fits = [&](const ct::GroupSummary& g) {
    json fits = json::array();
    for (const auto& f : g.fits)
      fits.push_back({{"basis", ct::basis_name(f.basis)}, {"K", f.K}, {"pooled_r2", f.pooled_r2()},
                      {"pooled_r2_svd", f.pooled_r2_svd()}, {"pooled_r2_null", f.pooled_r2_null()},
                      {"mean_r2", f.mean_r2()}, {"mean_amplitude_pr", f.mean_amplitude_pr()}});
    return fits;
  };
  json layers = json::array();
  for (const auto& g : a.layers)
    layers.push_back({{"layer", g.layer}, {"matrices", g.matrices}, {"weight_pr", g.mean_weight_pr()}, {"fits", group_fits(g)}});
  json roles = json::array();
  for (const auto& g : a.roles)
    roles.push_back({{"role", role_name(g.role)}, {"matrices", g.matrices}, {"weight_pr", g.mean_weight_pr()}, {"fits", group_fits(g)}});
  json summary_fits = json::array();
  for (size_t i = 0; i < a.model.fits.size(); ++i) {
    const auto& f = a.model.fits[i];
    const auto& acc = a.accounting[i];
    summary_fits.push_back({{"basis", ct::basis_name(f.basis)}, {"K", f.K}, {"pooled_r2", f.pooled_r2()},
                            {"mean_r2", f.mean_r2()}, {"pooled_r2_svd", f.pooled_r2_svd()},
                            {"pooled_r2_null", f.pooled_r2_null()}, {"mean_amplitude_pr", f.mean_amplitude_pr()},
                            {"amplitude_n95_min", f.amplitude_n95_min}, {"amplitude_n95_max", f.amplitude_n95_max},
                            {"amplitude_params", acc.amplitude_params}, {"basis_params", acc.basis_params},
                            {"compression_paper", acc.compression_paper},
                            {"compression_analyzed", acc.compression_analyzed},
                            {"compression_storage", acc.compression_storage}, {"verdict", verdict(f)}});
  }
  json skipped = json::array();
  for (const auto& [name, why] : a.skipped) skipped.push_back({{"name", name}, {"reason", why}});
  return {
      {"tool", {{"name", "ctscope"}, {"version", CTSCOPE_VERSION}}},
      {"model", {{"path", a.model_path}, {"format", a.format}, {"total_params", a.total_params}, {"tensors", a.tensors}}},
      {"settings", {{"K", s.Ks}, {"basis", ct::basis_name(s.bases.front())}, {"bases", bases},
                    {"selection", a.selection}, {"svd_baseline", s.svd_baseline}, {"spectrum", s.spectrum}}},
      {"matrices", matrices},
      {"skipped", skipped},
      {"layers", layers},
      {"roles", roles},
      {"summary", {{"rows", a.rows}, {"analyzed_params", a.analyzed_params}, {"matrices", a.matrices.size()},
                   {"mean_weight_pr", a.model.mean_weight_pr()}, {"fits", summary_fits}}},
      {"timing", {{"wall_s", a.wall_s}, {"peak_rss_mb", a.peak_rss_mb}, {"gflop", a.flops / 1e9},
                  {"gflops_per_s", a.wall_s > 0 ? a.flops / a.wall_s / 1e9 : 0.0}, {"bytes_streamed", a.bytes_read}}},
  };
}

std::string analysis_csv(const ModelAnalysis& a) {
  std::string o = "name,layer,role,rows,cols,params,weight_pr,stable_rank,sst,basis,K,sse,r2,r2_svd,r2_null,amplitude_pr,amplitude_n95\n";
  for (const auto& m : a.matrices) {
    const auto& r = m.result;
    for (const auto& f : r.fits)
      o += fmt::format("{},{},{},{},{},{},{:.9g},{:.9g},{:.9g},{},{},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{}\n", m.name,
                       m.layer >= 0 ? std::to_string(m.layer) : "", role_name(m.role), r.n, r.d, r.n * r.d, r.weight_pr,
                       r.stable_rank, r.sst, ct::basis_name(f.basis), f.K, f.sse, f.r2, f.r2_svd, f.r2_null,
                       f.amplitude_pr, f.amplitude_n95);
  }
  return o;
}

std::string analysis_markdown(const ModelAnalysis& a) {
  const auto& Ks = a.settings.Ks;
  std::string o = fmt::format("# CT analysis of `{}`\n\n{} format, {} tensors, {} parameters. Selection: {} ({} matrices, {} rows).\n\n",
                              a.model_path, a.format, a.tensors, a.total_params, a.selection, a.matrices.size(), a.rows);
  o += "## Fit quality (pooled R²)\n\n| | " ;
  for (int K : Ks) o += fmt::format("K={} | ", K);
  o += "\n|---|";
  for (size_t k = 0; k < Ks.size(); ++k) o += "---:|";
  o += "\n";
  for (size_t b = 0; b < a.settings.bases.size(); ++b) {
    o += fmt::format("| {} basis | ", ct::basis_name(a.settings.bases[b]));
    for (size_t k = 0; k < Ks.size(); ++k) o += fmt::format("{:.4f} | ", a.model.fits[fit_index(a, b, k)].pooled_r2());
    o += "\n";
  }
  o += "| best K-dim basis (SVD) | ";
  for (size_t k = 0; k < Ks.size(); ++k) o += fmt::format("{:.4f} | ", a.model.fits[fit_index(a, 0, k)].pooled_r2_svd());
  o += "\n| random directions (K/d) | ";
  for (size_t k = 0; k < Ks.size(); ++k) o += fmt::format("{:.4f} | ", a.model.fits[fit_index(a, 0, k)].pooled_r2_null());
  o += "\n| mean amplitude PR | ";
  for (size_t k = 0; k < Ks.size(); ++k) o += fmt::format("{:.2f} | ", a.model.fits[fit_index(a, 0, k)].mean_amplitude_pr());
  o += "\n| amplitude n95 | ";
  for (size_t k = 0; k < Ks.size(); ++k) {
    const auto& f = a.model.fits[fit_index(a, 0, k)];
    o += fmt::format("{}-{}/{} | ", f.amplitude_n95_min, f.amplitude_n95_max, f.K);
  }
  o += "\n| compression (paper / analyzed / storage) | ";
  for (size_t k = 0; k < Ks.size(); ++k) {
    const auto& c = a.accounting[fit_index(a, 0, k)];
    o += fmt::format("{:.1f}x / {:.1f}x / {:.1f}x | ", c.compression_paper, c.compression_analyzed, c.compression_storage);
  }
  o += "\n\n## Weight PR by layer\n\n| layer | matrices | mean weight PR |";
  for (int K : Ks) o += fmt::format(" R² K={} |", K);
  o += "\n|---:|---:|---:|";
  for (size_t k = 0; k < Ks.size(); ++k) o += "---:|";
  o += "\n";
  for (const auto& g : a.layers) {
    o += fmt::format("| {} | {} | {:.1f} |", g.layer, g.matrices, g.mean_weight_pr());
    for (size_t k = 0; k < Ks.size(); ++k) o += fmt::format(" {:.4f} |", g.fits[fit_index(a, 0, k)].pooled_r2());
    o += "\n";
  }
  o += "\n## In plain words\n\n";
  for (size_t b = 0; b < a.settings.bases.size(); ++b)
    for (size_t k = 0; k < Ks.size(); ++k) o += "- " + verdict(a.model.fits[fit_index(a, b, k)]) + "\n";
  return o;
}

}  // namespace ctscope::report
