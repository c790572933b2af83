#include "report/compression_report.hpp"

#include <fmt/format.h>

#include "util/format.hpp"

namespace ctscope::report {

using ctscope::CompressionComparison;
using ctscope::CompressionRow;

namespace {

double storage_ratio(const CompressionComparison& c, const CompressionRow& r) {
  return static_cast<double>(c.source_bytes) / static_cast<double>(r.stored_bytes);
}

}  // namespace

std::string compression_text(const CompressionComparison& c) {
  std::string o = fmt::format("{:<20}{:>14}{:>9}{:>10}{:>20}{:>11}{:>11}{:>8}\n", "variant", "stored params", "storage",
                              "R^2", "perplexity", "KL mean", "KL p99", "top-1");
  for (const auto& r : c.rows)
    o += fmt::format("{:<20}{:>14}{:>8.2f}x{:>10.4f}{:>20}{:>11.4f}{:>11.4f}{:>8.3f}\n", r.variant.label(),
                     with_commas(r.stored_params), storage_ratio(c, r), r.pooled_r2,
                     fmt::format("{:.3f} ± {:.3f}", r.eval.ppl, r.eval.ppl_stderr), r.eval.kl_mean.value_or(0),
                     r.eval.kl_p99.value_or(0), r.eval.top1_agreement.value_or(0));
  o += fmt::format(
      "\nstorage = source bytes / bytes a file of the variant holds (amplitudes and bases as F32); R^2 pooled over "
      "the {} fitted matrices; KL = KL(original || variant) per scored token.\n",
      c.fitted_matrices);
  return o;
}

nlohmann::json compression_json(const CompressionComparison& c) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : c.rows) {
    nlohmann::json j = r.eval.to_json();
    j["variant"] = r.variant.label();
    j["kind"] = r.variant.kind_name();
    if (r.variant.kind == Variant::Kind::Ct) {
      j["basis"] = ct::basis_name(r.variant.basis);
      j["K"] = r.variant.K;
    }
    j["stored_params"] = r.stored_params;
    j["stored_bytes"] = r.stored_bytes;
    j["storage_ratio"] = storage_ratio(c, r);
    j["pooled_r2"] = r.pooled_r2;
    rows.push_back(std::move(j));
  }
  return {{"model", c.model}, {"text", c.text}, {"ctx", c.ctx}, {"selection", c.selection}, {"variants", rows}};
}

}  // namespace ctscope::report
