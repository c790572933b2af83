#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "report/analysis_common.hpp"
#include "report/analysis_report.hpp"

namespace ctscope::report {

using ct::BasisKind;
using ct::FitAggregate;

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

std::string bound_name(BasisKind b) {
  return ct::is_affine(b) ? "best affine K-dim (centered SVD)" : "best linear K-dim (SVD)";
}

namespace {

// Amplitude PR against white noise through the same basis (its null): only a
// ratio well below 1 says the weights' amplitudes are low-dimensional.
std::string amplitude_sentence(const ct::FitPool& p) {
  const double pr = p.mean(p.amplitude_pr_sum), null = p.mean(p.amplitude_pr_null_sum);
  const double ratio = p.mean(p.amplitude_pr_ratio_sum);
  return fmt::format(" Amplitude PR {:.1f} against {:.1f} for white noise through this basis ({:.0f}%): {}.", pr, null,
                     100 * ratio,
                     ratio < 0.5 ? "low-dimensional amplitudes, beyond what the basis itself imposes"
                                 : "no sign of low-dimensional amplitudes beyond what the basis itself imposes");
}

}  // namespace

std::string verdict(const FitAggregate& f) {
  const std::string what = fmt::format("{} K={}", ct::basis_name(f.basis), f.K);
  if (f.matrices() == 0) return what + ": no matrix has rows of length >= K; nothing fitted.";
  if (f.nontrivial.matrices == 0)
    return fmt::format("{}: all {} fitted matrices have K >= d, so every fit is exact by construction (trivial). "
                       "Verdict: nothing to judge; choose K below d.",
                       what, f.matrices());
  const ct::FitPool& p = f.nontrivial;
  const double r2 = p.pooled_r2(), bound = p.pooled_r2_bound(), null = p.pooled_r2_null();
  const std::string over =
      f.trivial() > 0 ? fmt::format(" of the {} non-trivial matrices ({} trivial with K >= d left out)",
                                    p.matrices, f.trivial())
                      : std::string();
  std::string judgement;
  if (r2 <= null * 1.5 + 1e-12) judgement = "no better than random directions: the basis finds no structure";
  else if (bound > 0 && r2 >= 0.9 * bound) judgement = "close to the " + bound_name(f.basis);
  else if (bound > 0) judgement = fmt::format("{:.0f}% of what the {} achieves", 100 * r2 / bound, bound_name(f.basis));
  std::string o = fmt::format("{} captures {} of the variance{}; ", what, pct(r2), over);
  if (bound > 0) o += fmt::format("the {} would capture {}; ", bound_name(f.basis), pct(bound));
  o += fmt::format("random directions {}.", pct(null));
  if (!judgement.empty()) o += " Verdict: " + judgement + ".";
  return o + amplitude_sentence(p);
}

}  // namespace ctscope::report
