#include "report/analysis_report.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "report/analysis_common.hpp"
#include "util/format.hpp"

namespace ctscope::report {

using ct::BasisKind;
using ct::FitAggregate;
using ct::ModelAnalysis;

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
