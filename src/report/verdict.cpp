#include "report/analysis_report.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "report/analysis_common.hpp"

namespace ctscope::report {

using ct::BasisKind;
using ct::FitAggregate;
using ct::ModelAnalysis;

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

}  // namespace ctscope::report
