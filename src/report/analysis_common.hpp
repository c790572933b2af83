// Helpers shared by the renderings of a ModelAnalysis (internal to report/).
#pragma once
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ct/model_analysis.hpp"

namespace ctscope::report {

inline nlohmann::json layer_or_null(int layer) { return layer >= 0 ? nlohmann::json(layer) : nlohmann::json(nullptr); }

// Index of the fit for (basis, K) in the basis-major ordering of every fit list.
inline size_t fit_index(const ct::ModelAnalysis& a, size_t basis_i, size_t k_i) {
  return basis_i * a.settings.Ks.size() + k_i;
}

inline std::string pct(double x) { return fmt::format("{:.1f}%", 100 * x); }

// "L3" for a layer, "q_proj" for a role.
inline std::string group_label(const ct::GroupSummary& g) {
  return g.layer >= 0 ? fmt::format("L{}", g.layer) : std::string(role_name(g.role));
}

// "K = 8, 64 (default: ...)": which K were fitted and, for the defaults, where they come from.
inline std::string k_line(const ct::ModelAnalysis& a) {
  std::string ks;
  for (int K : a.settings.Ks) ks += (ks.empty() ? "" : ", ") + std::to_string(K);
  if (a.default_Ks.d == 0) return "K = " + ks + ".";
  return fmt::format("K = {} (default: d/256 and d/32 rounded down to powers of two, d = {} the row length of most "
                     "selected rows; choose with --K).",
                     ks, a.default_Ks.d);
}

}  // namespace ctscope::report
