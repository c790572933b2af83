#include "report/compression_report.hpp"

#include <fmt/format.h>

#include "eval/perplexity.hpp"
#include "util/format.hpp"

namespace ctscope::report {

using ctscope::CompressionComparison;
using ctscope::CompressionRow;

namespace {

double storage_ratio(const CompressionComparison& c, const CompressionRow& r) {
  return static_cast<double>(c.source_bytes) / static_cast<double>(r.stored_bytes);
}

// A KL divergence is >= 0; round-off of an exact reconstruction must not print as "-0.0000".
double nonnegative(double kl) { return kl > 0 ? kl : 0.0; }

std::string ppl_cell(const EvalResult& e) { return fmt::format("{:.3f} ± {:.3f}", e.ppl, e.ppl_stderr); }

// The floors as rows of the table: only the perplexity column applies.
std::string floor_rows(const PerplexityFloors& f) {
  const std::string dash_row = "{:<20}{:>9}{:>14}{:>9}{:>10}{:>20}{:>11}{:>11}{:>8}\n";
  return fmt::format(fmt::runtime(dash_row), "uniform guess", "-", "-", "-", "-", fmt::format("{:.3f}", f.uniform_ppl),
                     "-", "-", "-") +
         fmt::format(fmt::runtime(dash_row), "unigram (text)", "-", "-", "-", "-", ppl_cell(f.unigram), "-", "-", "-");
}

// "a, b, c and 4 more": a readable list of names, the JSON has them all.
std::string some_names(const std::vector<std::string>& names, size_t shown = 6) {
  std::string o;
  for (size_t i = 0; i < names.size() && i < shown; ++i) o += std::string(i ? ", " : "") + names[i];
  if (names.size() > shown) o += fmt::format(" and {} more", names.size() - shown);
  return o;
}

// Per K: which matrices and rows it fits, and which it leaves dense and why (spec "Coverage").
std::string coverage_text(const CompressionComparison& c) {
  std::string o;
  for (const auto& k : c.coverage) {
    o += fmt::format("K={}: fits {} of {} ({} rows, {} parameters)", k.K, k.matrices,
                     plural(static_cast<int64_t>(c.fitted_matrices), "selected matrix", "selected matrices"),
                     with_commas(k.rows), with_commas(k.params));
    if (k.skipped.empty()) {
      o += "\n";
      continue;
    }
    // Grouped by reason: at one K the reasons differ only in d.
    std::vector<std::pair<std::string, std::vector<std::string>>> by_reason;
    for (const auto& [name, why] : k.skipped) {
      if (by_reason.empty() || by_reason.back().first != why) by_reason.push_back({why, {}});
      by_reason.back().second.push_back(name);
    }
    o += "; left dense:";
    for (size_t i = 0; i < by_reason.size(); ++i)
      o += fmt::format("{} {} ({})", i ? ";" : "", some_names(by_reason[i].second), by_reason[i].first);
    o += "\n";
  }
  for (int K : c.unrun_K)
    o += fmt::format("K={}: fits no selected matrix (every row is shorter than {}): no variant run\n", K, K);
  return o;
}

// The plain-words reading of the perplexity column against its floors.
std::string floors_summary(const CompressionComparison& c) {
  const PerplexityFloors& f = c.floors;
  std::string o = fmt::format(
      "Floors on the same {}: a uniform guess over the {}-token vocabulary scores {:.0f}; the unigram frequencies of "
      "the scored tokens {:.3f}.\n",
      plural(f.unigram.scored_tokens, "scored token"), f.vocab, f.uniform_ppl, f.unigram.ppl);
  std::vector<std::string> uniform, unigram;
  for (const auto& r : c.rows) {
    const std::string v = floor_verdict(r.eval.ppl, f), item = fmt::format("{} ({:.1f})", r.variant.label(), r.eval.ppl);
    if (v == "worse than a uniform guess") uniform.push_back(item);
    else if (!v.empty()) unigram.push_back(item);
  }
  if (!uniform.empty()) o += fmt::format("Worse than a uniform guess: {}.\n", some_names(uniform, uniform.size()));
  if (!unigram.empty())
    o += fmt::format("Worse than the text's unigram frequencies (no use of context): {}.\n",
                     some_names(unigram, unigram.size()));
  if (uniform.empty() && unigram.empty()) o += "Every variant beats both floors.\n";
  return o;
}

}  // namespace

std::string compression_text(const CompressionComparison& c) {
  std::string o = fmt::format("{:<20}{:>9}{:>14}{:>9}{:>10}{:>20}{:>11}{:>11}{:>8}\n", "variant", "matrices",
                              "stored params", "storage", "R^2", "perplexity", "KL mean", "KL p99", "top-1");
  for (const auto& r : c.rows)
    o += fmt::format("{:<20}{:>9}{:>14}{:>8.2f}x{:>10.4f}{:>20}{:>11.4f}{:>11.4f}{:>8.3f}\n", r.variant.label(),
                     r.variant.kind == Variant::Kind::Original ? std::string("-") : std::to_string(r.matrices),
                     with_commas(r.stored_params), storage_ratio(c, r), r.pooled_r2, ppl_cell(r.eval),
                     nonnegative(r.eval.kl_mean.value_or(0)), nonnegative(r.eval.kl_p99.value_or(0)),
                     r.eval.top1_agreement.value_or(0));
  o += floor_rows(c.floors);
  o += '\n';
  o += coverage_text(c);
  o += '\n';
  o += floors_summary(c);
  o += fmt::format(
      "\nmatrices = the matrices a variant rewrites (of {} selected); storage = source bytes / bytes a file of the "
      "variant holds (amplitudes and bases as F32); R^2 pooled over the matrices the variant fits; KL = "
      "KL(original || variant) per scored token; unigram = the frequencies of the scored tokens, scored by the same "
      "rule.\n",
      c.fitted_matrices);
  for (const auto& n : c.notes) o += n + "\n";
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
    if (r.variant.kind != Variant::Kind::Original) {
      j["matrices"] = r.matrices;
      j["rows"] = r.rows;
    }
    j["vs_floors"] = floor_verdict(r.eval.ppl, c.floors);
    rows.push_back(std::move(j));
  }
  const auto skipped_json = [](const std::vector<std::pair<std::string, std::string>>& list) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& p : list) a.push_back({{"name", p.first}, {"reason", p.second}});
    return a;
  };
  nlohmann::json coverage = nlohmann::json::array();
  for (const auto& k : c.coverage) {
    nlohmann::json skipped = nlohmann::json::array();
    for (const auto& [name, why] : k.skipped) skipped.push_back({{"name", name}, {"reason", why}, {"K", k.K}});
    coverage.push_back(
        {{"K", k.K}, {"matrices", k.matrices}, {"rows", k.rows}, {"analyzed_params", k.params}, {"skipped", skipped}});
  }
  return {{"model", c.model},       {"text", c.text},         {"ctx", c.ctx},
          {"selection", c.selection}, {"selected_matrices", c.fitted_matrices},
          {"coverage", coverage},   {"unrun_K", c.unrun_K},   {"floors", c.floors.to_json()},
          {"notes", c.notes},       {"skipped", skipped_json(c.skipped)}, {"variants", rows}};
}

}  // namespace ctscope::report
