// The tables of the analysis report (shared by the terminal and Markdown), and
// the CSV.
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "report/analysis_common.hpp"
#include "report/analysis_report.hpp"
#include "util/format.hpp"

namespace ctscope::report {

using ct::BasisKind;
using ct::FitAggregate;
using ct::ModelAnalysis;

namespace {

// R² at the precision the method supports (spec "Precision": |delta r2| <= 1e-4).
std::string r2_cell(double v) { return fmt::format("{:.4f}", v); }
// The same for a pooled value, "-" where nothing was fitted at that K.
std::string pooled_cell(const ct::FitAggregate& f, double v) { return f.matrices() ? r2_cell(v) : std::string("-"); }

std::vector<std::string> k_head(const ModelAnalysis& a, const std::string& first) {
  std::vector<std::string> h{first};
  for (int K : a.settings.Ks) h.push_back(fmt::format("K={}", K));
  return h;
}

// A row: the label, then one cell per K.
template <typename Fn>
std::vector<std::string> per_k(const ModelAnalysis& a, const std::string& label, Fn cell) {
  std::vector<std::string> row{label};
  for (size_t k = 0; k < a.settings.Ks.size(); ++k) row.push_back(cell(k));
  return row;
}

const FitAggregate& fit(const ModelAnalysis& a, size_t b, size_t k) { return a.model.fits[fit_index(a, b, k)]; }

bool any_trivial(const ModelAnalysis& a) {
  return std::any_of(a.model.fits.begin(), a.model.fits.end(), [](const FitAggregate& f) { return f.trivial() > 0; });
}

Table fit_quality(const ModelAnalysis& a) {
  const auto& bases = a.settings.bases;
  Table t{"Fit quality (pooled R², every fitted matrix)", k_head(a, ""), {}, {}, ""};
  for (size_t b = 0; b < bases.size(); ++b)
    t.rows.push_back(per_k(a, fmt::format("{} basis", ct::basis_name(bases[b])),
                           [&](size_t k) { return pooled_cell(fit(a, b, k), fit(a, b, k).pooled_r2()); }));
  if (a.settings.svd_baseline) {
    // One bound row per class present: linear bases share r2_svd, the affine one has its own.
    bool linear_done = false, affine_done = false;
    for (size_t b = 0; b < bases.size(); ++b) {
      bool& done = ct::is_affine(bases[b]) ? affine_done : linear_done;
      if (done) continue;
      done = true;
      t.rows.push_back(per_k(a, bound_name(bases[b]),
                             [&](size_t k) { return pooled_cell(fit(a, b, k), fit(a, b, k).pooled_r2_bound()); }));
    }
  }
  t.rows.push_back(per_k(a, "random directions (null, K/d)",
                         [&](size_t k) { return pooled_cell(fit(a, 0, k), fit(a, 0, k).pooled_r2_null()); }));
  t.rows.push_back(per_k(a, fmt::format("mean R² over matrices ({})", ct::basis_name(bases[0])),
                         [&](size_t k) { return pooled_cell(fit(a, 0, k), fit(a, 0, k).mean_r2()); }));
  t.rows.push_back(per_k(a, "matrices fitted", [&](size_t k) { return std::to_string(fit(a, 0, k).matrices()); }));
  if (any_trivial(a)) {
    t.rows.push_back(per_k(a, "trivial: K ≥ d", [&](size_t k) { return std::to_string(fit(a, 0, k).trivial()); }));
    for (size_t b = 0; b < bases.size(); ++b)
      t.rows.push_back(per_k(a, fmt::format("{}, non-trivial only", ct::basis_name(bases[b])), [&](size_t k) {
        const auto& f = fit(a, b, k);
        return f.nontrivial.matrices ? r2_cell(f.nontrivial.pooled_r2()) : std::string("-");
      }));
  }
  return t;
}

Table amplitudes(const ModelAnalysis& a) {
  Table t{"Amplitudes (mean over matrices)",
          {"", "K", "amplitude PR", "white-noise null", "PR / null", "n95 (min-max)"}, {}, {}, ""};
  for (size_t b = 0; b < a.settings.bases.size(); ++b)
    for (size_t k = 0; k < a.settings.Ks.size(); ++k) {
      const auto& f = fit(a, b, k);
      if (f.matrices() == 0) continue;
      t.rows.push_back({std::string(ct::basis_name(f.basis)), std::to_string(f.K),
                        fmt::format("{:.2f}", f.mean_amplitude_pr()), fmt::format("{:.2f}", f.mean_amplitude_pr_null()),
                        fmt::format("{:.2f}", f.mean_amplitude_pr_ratio()),
                        fmt::format("{}-{}/{}", f.amplitude_n95_min, f.amplitude_n95_max, f.K)});
    }
  return t;
}

// Layers or roles: matrices, weight PR, stable rank and the primary basis's R² per K.
Table groups(const ModelAnalysis& a, const std::vector<ct::GroupSummary>& gs, const std::string& title,
             const std::string& first) {
  Table t{title, {first, "matrices", "weight PR", "stable rank"}, {}, {}, ""};
  for (int K : a.settings.Ks) t.head.push_back(fmt::format("R² K={}", K));
  for (const auto& g : gs) {
    std::vector<std::string> row{group_label(g), std::to_string(g.matrices), fmt::format("{:.1f}", g.mean_weight_pr()),
                                 fmt::format("{:.1f}", g.mean_stable_rank())};
    for (size_t k = 0; k < a.settings.Ks.size(); ++k) {
      const auto& f = g.fits[fit_index(a, 0, k)];
      row.push_back(f.matrices() ? r2_cell(f.pooled_r2()) : std::string("-"));
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table by_layer(const ModelAnalysis& a) {
  Table t = groups(a, a.layers, fmt::format("By layer (centered weight PR, mean over the layer's matrices; R²: {})",
                                            ct::basis_name(a.settings.bases[0])),
                   "layer");
  std::vector<double> prs;
  for (const auto& g : a.layers) prs.push_back(g.mean_weight_pr());
  if (!prs.empty())
    t.notes.push_back(fmt::format("weight PR {}  L{}..L{}: {:.1f} .. {:.1f}", sparkline(prs), a.layers.front().layer,
                                  a.layers.back().layer, *std::min_element(prs.begin(), prs.end()),
                                  *std::max_element(prs.begin(), prs.end())));
  return t;
}

// With --spectrum: per role, from the centered Gram's full spectrum.
Table spectrum(const ModelAnalysis& a) {
  struct Acc {
    int64_t n = 0, n95_min = 0, n95_max = 0;
    double n95 = 0, pr = 0, pr_sv = 0, sr = 0;
  };
  std::map<std::string, Acc> by;
  std::vector<std::string> order;
  for (const auto& m : a.matrices) {
    if (!m.result.spectrum) continue;
    for (const std::string& key : {std::string(role_name(m.role)), std::string("all")}) {
      auto [it, fresh] = by.try_emplace(key);
      Acc& c = it->second;
      if (fresh && key != "all") order.push_back(key);
      const auto& sp = *m.result.spectrum;
      c.n95_min = c.n ? std::min<int64_t>(c.n95_min, sp.weight_n95) : sp.weight_n95;
      c.n95_max = c.n ? std::max<int64_t>(c.n95_max, sp.weight_n95) : sp.weight_n95;
      ++c.n;
      c.n95 += sp.weight_n95;
      c.pr += m.result.weight_pr;
      c.pr_sv += sp.weight_pr_sv;
      c.sr += m.result.stable_rank;
    }
  }
  order.push_back("all");
  Table t{"Spectrum of the centered Gram (--spectrum; means over matrices)",
          {"", "matrices", "weight n95 (mean, min-max)", "weight PR", "PR over singular values", "stable rank"}, {}, {}, ""};
  for (const auto& key : order) {
    const Acc& c = by[key];
    if (c.n == 0) continue;
    const double n = static_cast<double>(c.n);
    t.rows.push_back({key, std::to_string(c.n), fmt::format("{:.1f} ({}-{})", c.n95 / n, c.n95_min, c.n95_max),
                      fmt::format("{:.1f}", c.pr / n), fmt::format("{:.1f}", c.pr_sv / n), fmt::format("{:.1f}", c.sr / n)});
  }
  return t;
}

// Rows, amplitudes and the paper's ratios depend on K only; what a file must
// hold depends on the basis too (svd and universal store their bases).
Table accounting(const ModelAnalysis& a) {
  const auto acc = [&](size_t b, size_t k) -> const ct::Accounting& { return a.accounting[fit_index(a, b, k)]; };
  const auto ratio = [&](size_t k, double v) { return acc(0, k).rows ? fmt::format("{:.1f}x", v) : std::string("-"); };
  Table t{"Compression accounting (each K over the matrices fitted at that K)", k_head(a, ""), {}, {}, ""};
  t.rows.push_back(per_k(a, "rows fitted", [&](size_t k) { return with_commas(acc(0, k).rows); }));
  t.rows.push_back(per_k(a, "analyzed parameters", [&](size_t k) { return with_commas(acc(0, k).analyzed_params); }));
  t.rows.push_back(per_k(a, "amplitude parameters", [&](size_t k) { return with_commas(acc(0, k).amplitude_params); }));
  t.rows.push_back(per_k(a, "paper ratio (total / amplitudes)",
                         [&](size_t k) { return ratio(k, acc(0, k).compression_paper); }));
  t.rows.push_back(per_k(a, "analyzed / amplitudes", [&](size_t k) { return ratio(k, acc(0, k).compression_analyzed); }));
  for (size_t b = 0; b < a.settings.bases.size(); ++b) {
    const BasisKind kind = a.settings.bases[b];
    const char* cost = kind == BasisKind::Svd         ? " (+K·d per matrix)"
                       : kind == BasisKind::Universal ? " (+(K+1)·d per row length)"
                                                      : " (basis implied by K, d)";
    t.rows.push_back(per_k(a, fmt::format("storage, {}{}", ct::basis_name(kind), cost),
                           [&](size_t k) { return ratio(k, acc(b, k).compression_storage); }));
  }
  t.notes.push_back("storage = total parameters / what a CT-compressed file must hold (amplitudes, bases, unfitted tensors)");
  return t;
}

// Skipped tensors grouped by reason (and K), with a few names each.
Table not_fitted(const ModelAnalysis& a) {
  struct Group {
    int K = 0;
    std::vector<std::string> names;
  };
  std::vector<std::pair<std::string, Group>> groups;
  for (const auto& s : a.skipped) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == s.reason; });
    if (it == groups.end()) {
      groups.push_back({s.reason, Group{s.K, {}}});
      it = groups.end() - 1;
    }
    it->second.names.push_back(s.name);
  }
  Table t{"Not fitted (the JSON's `skipped`)", {"reason", "K", "tensors", "e.g."}, {}, {}, "lrrl"};
  for (const auto& [reason, g] : groups) {
    std::string eg = g.names.front();
    if (g.names.size() > 1) eg += ", " + g.names[1];
    if (g.names.size() > 2) eg += ", ...";
    t.rows.push_back({reason, g.K ? std::to_string(g.K) : std::string("all"), std::to_string(g.names.size()), eg});
  }
  return t;
}

// The primary basis's r2 at the largest K the matrix was fitted at (for sorting).
double sort_r2(const ModelAnalysis& a, const ct::MatrixRecord& m) {
  for (size_t k = a.settings.Ks.size(); k-- > 0;) {
    const auto& f = m.result.fits[fit_index(a, 0, k)];
    if (f.fitted) return f.r2;
  }
  return -1e300;
}

Table per_matrix(const ModelAnalysis& a, const ReportOptions& o) {
  std::vector<const ct::MatrixRecord*> ms;
  for (const auto& m : a.matrices) ms.push_back(&m);
  if (o.sort == "r2")
    std::stable_sort(ms.begin(), ms.end(), [&](auto* x, auto* y) { return sort_r2(a, *x) > sort_r2(a, *y); });
  else if (o.sort == "weight_pr")
    std::stable_sort(ms.begin(), ms.end(), [](auto* x, auto* y) { return x->result.weight_pr > y->result.weight_pr; });
  else if (o.sort == "name")
    std::stable_sort(ms.begin(), ms.end(), [](auto* x, auto* y) { return x->name < y->name; });
  const size_t shown = o.top > 0 ? std::min(ms.size(), static_cast<size_t>(o.top)) : ms.size();
  Table t{fmt::format("Per matrix ({} of {}, sorted by {})", shown, ms.size(), o.sort),
          {"name", "shape", "weight PR", "stable rank"}, {}, {}, "lr"};
  if (a.settings.spectrum) t.head.push_back("weight n95");
  for (auto b : a.settings.bases)
    for (int K : a.settings.Ks) t.head.push_back(fmt::format("{} K={}", ct::basis_name(b), K));
  bool starred = false;
  for (size_t i = 0; i < shown; ++i) {
    const auto& r = ms[i]->result;
    std::vector<std::string> row{ms[i]->name, fmt::format("{}x{}", r.n, r.d), fmt::format("{:.1f}", r.weight_pr),
                                 fmt::format("{:.1f}", r.stable_rank)};
    if (a.settings.spectrum) row.push_back(r.spectrum ? std::to_string(r.spectrum->weight_n95) : "-");
    for (const auto& f : r.fits) {
      starred = starred || (f.fitted && f.trivial);
      row.push_back(!f.fitted ? "-" : r2_cell(f.r2) + (f.trivial ? "*" : ""));
    }
    t.rows.push_back(std::move(row));
  }
  t.notes.push_back("R² per basis and K; - not fitted (d < K)" + std::string(starred ? "; * trivial (K ≥ d)" : ""));
  return t;
}

}  // namespace

const std::vector<std::string>& per_matrix_sort_keys() {
  static const std::vector<std::string> keys{"order", "r2", "weight_pr", "name"};
  return keys;
}

std::vector<Table> analysis_tables(const ModelAnalysis& a, const ReportOptions& o) {
  std::vector<Table> ts{fit_quality(a), amplitudes(a)};
  if (!a.layers.empty()) ts.push_back(by_layer(a));
  ts.push_back(groups(a, a.roles, fmt::format("By role (R²: {})", ct::basis_name(a.settings.bases[0])), "role"));
  if (a.settings.spectrum) ts.push_back(spectrum(a));
  ts.push_back(accounting(a));
  if (!a.skipped.empty()) ts.push_back(not_fitted(a));
  if (o.per_matrix) ts.push_back(per_matrix(a, o));
  return ts;
}

std::vector<std::string> analysis_notes(const ModelAnalysis& a) {
  std::vector<std::string> n;
  bool negative = false;
  for (const auto& f : a.model.fits) negative = negative || (f.matrices() && f.pooled_r2() < 0);
  for (const auto& m : a.matrices)
    for (const auto& f : m.result.fits) negative = negative || (f.fitted && f.r2 < 0);
  if (any_trivial(a))
    n.push_back("trivial: a matrix with K ≥ d is fitted exactly by any basis; verdicts leave it out.");
  if (negative)
    n.push_back("R² < 0: the fit is worse than the matrix's own mean value (possible for the shared universal basis "
                "on one matrix); shown as it is.");
  if (a.settings.svd_baseline)
    n.push_back("best linear / affine K-dim: the optimum of the basis's own class; no fit can exceed it.");
  n.push_back("white-noise null: the amplitude PR that rows of pure noise get through the same basis; only PR / null "
              "well below 1 means low-dimensional amplitudes.");
  return n;
}

std::string analysis_csv(const ModelAnalysis& a) {
  std::string o =
      "name,layer,role,rows,cols,params,weight_pr,stable_rank,sst,basis,K,sse,r2,r2_svd,r2_null,amplitude_pr,"
      "amplitude_n95,r2_bound,amplitude_pr_null,amplitude_pr_ratio,trivial\n";
  for (const auto& m : a.matrices) {
    const auto& r = m.result;
    for (const auto& f : r.fits) {
      if (!f.fitted) continue;
      o += fmt::format("{},{},{},{},{},{},{:.9g},{:.9g},{:.9g},{},{},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{},{:.9g},{:.9g},"
                       "{:.9g},{}\n",
                       m.name, m.layer >= 0 ? std::to_string(m.layer) : "", role_name(m.role), r.n, r.d, r.n * r.d,
                       r.weight_pr, r.stable_rank, r.sst, ct::basis_name(f.basis), f.K, f.sse, f.r2, f.r2_svd,
                       f.r2_null, f.amplitude_pr, f.amplitude_n95, f.r2_bound, f.amplitude_pr_null,
                       f.amplitude_pr_ratio(), f.trivial ? 1 : 0);
    }
  }
  return o;
}

std::string analysis_markdown(const ModelAnalysis& a, const ReportOptions& o) {
  std::string md = fmt::format("# CT analysis of `{}`\n\n{} format, {} tensors, {} parameters. {}\n", a.model_path,
                               a.format, a.tensors, a.total_params, k_line(a));
  md += fmt::format("Selection: {} ({}, {} rows).\n", a.selection,
                    plural(static_cast<int64_t>(a.matrices.size()), "matrix", "matrices"), a.rows);
  for (const auto& t : analysis_tables(a, o)) md += render_markdown(t);
  md += "\n## In plain words\n\n";
  for (const auto& f : a.model.fits) md += "- " + verdict(f) + "\n";
  md += "\n## Notes\n\n";
  for (const auto& n : analysis_notes(a)) md += "- " + n + "\n";
  return md;
}

}  // namespace ctscope::report
