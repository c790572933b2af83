#include "report/analysis_report.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "report/analysis_common.hpp"
#include "report/run_metadata.hpp"

namespace ctscope::report {

using ct::BasisKind;
using ct::FitAggregate;
using ct::ModelAnalysis;

nlohmann::json analysis_json(const ModelAnalysis& a) {
  using nlohmann::json;
  const auto& s = a.settings;
  json bases = json::array();
  for (auto b : s.bases) bases.push_back(ct::basis_name(b));
  json fit_json_list = json::array();
  // Without the SVD baseline there is no bound: null rather than a made-up 0.
  auto bound = [&](double v) { return s.svd_baseline ? json(v) : json(nullptr); };
  auto fit_json = [&](const ct::FitResult& f) {
    return json{{"basis", ct::basis_name(f.basis)}, {"K", f.K}, {"sse", f.sse}, {"r2", f.r2},
                {"r2_svd", bound(f.r2_svd)}, {"r2_bound", bound(f.r2_bound)}, {"r2_null", f.r2_null},
                {"amplitude_pr", f.amplitude_pr}, {"amplitude_pr_null", f.amplitude_pr_null},
                {"amplitude_pr_ratio", f.amplitude_pr_ratio()}, {"amplitude_n95", f.amplitude_n95},
                {"trivial", f.trivial}};
  };
  json matrices = json::array();
  for (const auto& m : a.matrices) {
    const auto& r = m.result;
    json fits = json::array();
    for (const auto& f : r.fits)
      if (f.fitted) fits.push_back(fit_json(f));
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
      fits.push_back({{"basis", ct::basis_name(f.basis)}, {"K", f.K}, {"matrices", f.matrices()},
                      {"trivial", f.trivial()}, {"pooled_r2", f.pooled_r2()},
                      {"pooled_r2_nontrivial", f.nontrivial.pooled_r2()}, {"pooled_r2_svd", bound(f.pooled_r2_svd())},
                      {"pooled_r2_bound", bound(f.pooled_r2_bound())}, {"pooled_r2_null", f.pooled_r2_null()},
                      {"mean_r2", f.mean_r2()}, {"mean_amplitude_pr", f.mean_amplitude_pr()},
                      {"mean_amplitude_pr_null", f.mean_amplitude_pr_null()}});
    return fits;
  };
  json layers = json::array();
  for (const auto& g : a.layers)
    layers.push_back({{"layer", g.layer}, {"matrices", g.matrices}, {"weight_pr", g.mean_weight_pr()}, {"fits", group_fits(g)}});
  json roles = json::array();
  for (const auto& g : a.roles)
    roles.push_back({{"role", role_name(g.role)}, {"matrices", g.matrices}, {"weight_pr", g.mean_weight_pr()}, {"fits", group_fits(g)}});
  // A K that fitted nothing has no ratios (null, not 0x).
  auto ratio = [](const ct::Accounting& acc, double v) { return acc.rows ? json(v) : json(nullptr); };
  json summary_fits = json::array();
  for (size_t i = 0; i < a.model.fits.size(); ++i) {
    const auto& f = a.model.fits[i];
    const auto& acc = a.accounting[i];
    summary_fits.push_back({{"basis", ct::basis_name(f.basis)}, {"K", f.K}, {"matrices", f.matrices()},
                            {"trivial", f.trivial()}, {"rows", acc.rows}, {"analyzed_params", acc.analyzed_params},
                            {"pooled_r2", f.pooled_r2()}, {"pooled_r2_nontrivial", f.nontrivial.pooled_r2()},
                            {"mean_r2", f.mean_r2()}, {"pooled_r2_svd", bound(f.pooled_r2_svd())},
                            {"pooled_r2_bound", bound(f.pooled_r2_bound())},
                            {"bound", ct::is_affine(f.basis) ? "affine (centered SVD)" : "linear (SVD)"},
                            {"pooled_r2_null", f.pooled_r2_null()}, {"mean_amplitude_pr", f.mean_amplitude_pr()},
                            {"mean_amplitude_pr_null", f.mean_amplitude_pr_null()},
                            {"mean_amplitude_pr_ratio", f.mean_amplitude_pr_ratio()},
                            {"amplitude_n95_min", f.amplitude_n95_min}, {"amplitude_n95_max", f.amplitude_n95_max},
                            {"amplitude_params", acc.amplitude_params}, {"basis_params", acc.basis_params},
                            {"compression_paper", ratio(acc, acc.compression_paper)},
                            {"compression_analyzed", ratio(acc, acc.compression_analyzed)},
                            {"compression_storage", ratio(acc, acc.compression_storage)}, {"verdict", verdict(f)}});
  }
  json skipped = json::array();
  for (const auto& sk : a.skipped) {
    json e = {{"name", sk.name}, {"reason", sk.reason}};
    if (sk.K > 0) e["K"] = sk.K;  // left out at this K only
    skipped.push_back(std::move(e));
  }
  const json default_K = a.default_Ks.d == 0
                             ? json(nullptr)
                             : json{{"d", a.default_Ks.d}, {"K", a.default_Ks.Ks},
                                    {"rule", "d/256 and d/32 rounded down to powers of two (at least 1), d = the row "
                                             "length of most selected rows"}};
  return {
      {"tool", tool_json()},
      {"model", model_json(a.model_path, a.format, a.total_params, a.tensors)},
      {"settings", {{"K", s.Ks}, {"basis", ct::basis_name(s.bases.front())}, {"bases", bases},
                    {"selection", a.selection}, {"svd_baseline", s.svd_baseline}, {"spectrum", s.spectrum},
                    {"seed", s.seed}, {"selection_options", selection_json(s.selection)}}},
      {"units", analysis_units()},
      {"matrices", matrices},
      {"skipped", skipped},
      {"layers", layers},
      {"roles", roles},
      {"summary", {{"rows", a.rows}, {"analyzed_params", a.analyzed_params}, {"matrices", a.matrices.size()},
                   {"mean_weight_pr", a.model.mean_weight_pr()}, {"mean_stable_rank", a.model.mean_stable_rank()},
                   {"default_K", default_K}, {"fits", summary_fits}}},
      {"timing", {{"wall_s", a.wall_s}, {"peak_rss_mb", a.peak_rss_mb}, {"gflop", a.flops / 1e9},
                  {"gflops_per_s", a.wall_s > 0 ? a.flops / a.wall_s / 1e9 : 0.0}, {"bytes_streamed", a.bytes_read},
                  {"lanes", a.lanes}, {"bf16_gram_kernel", a.bf16_gram_kernel}, {"blas_core", a.blas_core}}},
  };
}

}  // namespace ctscope::report
