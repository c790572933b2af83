// The terminal report, in the order of Paper 68: the tables of
// analysis_tables (every fit beside its own bound and the null, amplitudes
// beside their white-noise null, layers, roles, accounting per basis, what
// was not fitted), then the verdicts in plain words and notes.
#include <fmt/format.h>

#include "report/analysis_common.hpp"
#include "report/analysis_report.hpp"
#include "util/format.hpp"

namespace ctscope::report {

using ct::ModelAnalysis;

namespace {

std::string header(const ModelAnalysis& a) {
  std::string o = fmt::format("ctscope analyze  {}  ({}, {} tensors, {} parameters)\n", a.model_path, a.format,
                              a.tensors, with_commas(a.total_params));
  o += fmt::format("selection: {}: {}, {} rows, {} parameters", a.selection,
                   plural(static_cast<int64_t>(a.matrices.size()), "matrix", "matrices"), with_commas(a.rows),
                   with_commas(a.analyzed_params));
  o += a.skipped.empty() ? "\n" : fmt::format("; {} not fitted (listed below)\n", a.skipped.size());
  return o + k_line(a) + "\n";
}

std::string cost(const ModelAnalysis& a) {
  return fmt::format("\n{:.1f} s wall{}, peak RSS {:.0f} MB, {:.1f} MB streamed, {:.1f} GFLOP/s\n", a.wall_s,
                     a.lanes > 1 ? fmt::format(" ({} matrices at a time)", a.lanes) : "", a.peak_rss_mb,
                     a.bytes_read / 1e6, a.wall_s > 0 ? a.flops / a.wall_s / 1e9 : 0.0);
}

}  // namespace

std::string analysis_text(const ModelAnalysis& a, const ReportOptions& opt) {
  std::string o = header(a);
  for (const auto& t : analysis_tables(a, opt)) o += render_text(t);
  o += "\nIn plain words:\n";
  for (const auto& f : a.model.fits) o += "  " + verdict(f) + "\n";
  o += "\nNotes:\n";
  for (const auto& n : analysis_notes(a)) o += "  " + n + "\n";
  return o + cost(a);
}

}  // namespace ctscope::report
