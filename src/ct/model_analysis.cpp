#include "ct/model_analysis.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <regex>
#include <set>

#include "ct/basis_provider.hpp"
#include "util/error.hpp"

namespace ctscope::ct {

double peak_rss_mb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

namespace {

bool is_projection(Role r) {
  return r == Role::QProj || r == Role::KProj || r == Role::VProj || r == Role::OProj ||
         r == Role::GateProj || r == Role::UpProj || r == Role::DownProj;
}

std::regex compile_regex(const std::string& flag, const std::string& re) {
  try {
    return std::regex(re, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw Error(fmt::format("{} '{}': invalid regular expression ({})", flag, re, e.what()));
  }
}

}  // namespace

void FitAggregate::add(const FitResult& f, double sst_matrix) {
  if (matrices == 0) {
    amplitude_n95_min = amplitude_n95_max = f.amplitude_n95;
  } else {
    amplitude_n95_min = std::min(amplitude_n95_min, f.amplitude_n95);
    amplitude_n95_max = std::max(amplitude_n95_max, f.amplitude_n95);
  }
  sse += f.sse;
  sst += sst_matrix;
  sse_svd += (1 - f.r2_svd) * sst_matrix;
  sse_null += (1 - f.r2_null) * sst_matrix;
  r2_sum += f.r2;
  amplitude_pr_sum += f.amplitude_pr;
  ++matrices;
}

Selection select_tensors(const Checkpoint& ck, const AnalysisSettings& s) {
  Selection sel;
  const bool paper = s.preset == "paper68";
  if (!s.preset.empty() && !paper) throw Error(fmt::format("--preset '{}': unknown (known: paper68)", s.preset));
  std::optional<std::regex> inc, exc;
  if (!s.include.empty()) inc = compile_regex("--include", s.include);
  if (!s.exclude.empty()) exc = compile_regex("--exclude", s.exclude);
  const int kmax = s.Ks.empty() ? 0 : *std::max_element(s.Ks.begin(), s.Ks.end());

  sel.description = paper ? "paper68: q,k,v,o,gate,up,down of every layer + lm_head" : "every 2-D tensor";
  if (inc) sel.description += ", include /" + s.include + "/";
  if (exc) sel.description += ", exclude /" + s.exclude + "/";

  for (const auto& t : ck.tensors) {
    if (paper) {
      // Paper 68 counts one vocabulary matrix: lm_head (the embedding itself when tied).
      if (!(is_projection(t.role) || t.role == Role::LmHead)) continue;
    } else if (!t.alias_of.empty()) {
      sel.skipped.emplace_back(t.name, "alias of " + t.alias_of + " (analyzed once)");
      continue;
    }
    if (inc && !std::regex_search(t.name, *inc)) continue;
    if (exc && std::regex_search(t.name, *exc)) continue;
    if (!t.is_matrix()) {
      sel.skipped.emplace_back(t.name, fmt::format("{}-D tensor (only matrices are fitted)", t.shape.size()));
    } else if (t.numel() == 0) {
      sel.skipped.emplace_back(t.name, "empty matrix");
    } else if (!traits(t.dtype).to_f32) {
      sel.skipped.emplace_back(t.name, fmt::format("dtype {} is not supported", dtype_name(t.dtype)));
    } else if (t.cols() < kmax) {
      sel.skipped.emplace_back(t.name, fmt::format("row length d={} < K={}", t.cols(), kmax));
    } else if (t.rows() < 2) {
      sel.skipped.emplace_back(t.name, "a single row");
    } else {
      sel.matrices.push_back(&t);
    }
  }
  return sel;
}

std::vector<const TensorInfo*> fitted_data(const Checkpoint& ck, const Selection& sel) {
  std::vector<const TensorInfo*> out;
  std::set<std::string> seen;
  for (const auto* t : sel.matrices) {
    const TensorInfo* data = t->alias_of.empty() ? t : ck.find(t->alias_of);
    if (data && seen.insert(data->name).second) out.push_back(data);
  }
  return out;
}

ModelAnalysis analyze_model(const Checkpoint& ck, const AnalysisSettings& s, const ProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  if (s.Ks.empty()) throw Error("--K: no K given");
  if (s.bases.empty()) throw Error("--basis: no basis given");
  ModelAnalysis out;
  out.model_path = ck.path.string();
  out.format = std::string(format_name(ck.format));
  out.total_params = ck.total_params();
  out.tensors = ck.tensors.size();
  out.settings = s;
  Selection sel = select_tensors(ck, s);
  out.selection = sel.description;
  out.skipped = sel.skipped;

  BasisProvider bases(ck, sel.matrices, s.seed);
  double bytes = 0;
  for (size_t i = 0; i < sel.matrices.size(); ++i) {
    const TensorInfo& t = *sel.matrices[i];
    const MatrixView W{t.dtype, ck.bytes(t).data(), t.rows(), t.cols()};
    Options opt;
    opt.svd_baseline = s.svd_baseline;
    opt.spectrum = s.spectrum;
    for (BasisKind b : s.bases)
      for (int K : s.Ks) opt.bases.push_back(&bases.get(b, K, t, W));
    MatrixRecord rec{t.name, t.layer, t.role, t.dtype, analyze_matrix(W, opt)};
    ck.release(t);
    bytes += static_cast<double>(t.nbytes);
    out.flops += rec.result.flops;
    if (!rec.result.error.empty()) {
      out.skipped.emplace_back(t.name, rec.result.error);
    } else {
      out.matrices.push_back(std::move(rec));
    }
    if (progress) progress(i + 1, sel.matrices.size(), t.name, bytes);
  }
  out.bytes_read = bytes;

  // Aggregates.
  auto fresh_group = [&]() {
    GroupSummary g;
    for (BasisKind b : s.bases)
      for (int K : s.Ks) {
        FitAggregate f;
        f.basis = b;
        f.K = K;
        g.fits.push_back(f);
      }
    return g;
  };
  auto add_to = [&](GroupSummary& g, const MatrixRecord& r) {
    ++g.matrices;
    g.weight_pr_sum += r.result.weight_pr;
    for (size_t k = 0; k < g.fits.size(); ++k) g.fits[k].add(r.result.fits[k], r.result.sst);
  };
  std::map<int, GroupSummary> layers;
  std::map<Role, GroupSummary> roles;
  out.model = fresh_group();
  std::map<int64_t, int> distinct_d;
  for (const auto& r : out.matrices) {
    add_to(out.model, r);
    if (r.layer >= 0) {
      auto [it, fresh] = layers.try_emplace(r.layer, fresh_group());
      it->second.layer = r.layer;
      add_to(it->second, r);
    }
    auto [it, fresh] = roles.try_emplace(r.role, fresh_group());
    it->second.role = r.role;
    add_to(it->second, r);
    out.rows += static_cast<uint64_t>(r.result.n);
    out.analyzed_params += static_cast<uint64_t>(r.result.n * r.result.d);
    distinct_d[r.result.d]++;
  }
  for (auto& [l, g] : layers) out.layers.push_back(std::move(g));
  for (auto& [r, g] : roles) out.roles.push_back(std::move(g));

  // Accounting (spec "Accounting"): the basis is free when it follows from
  // (K, d) (gaussian, dct, seeded random); svd stores K*d per matrix, universal
  // K*d + d per distinct d.
  for (const auto& f : out.model.fits) {
    Accounting a;
    a.basis = f.basis;
    a.K = f.K;
    a.amplitude_params = static_cast<uint64_t>(f.K) * out.rows;
    if (f.basis == BasisKind::Svd) {
      for (const auto& r : out.matrices) a.basis_params += static_cast<uint64_t>(f.K * r.result.d);
    } else if (f.basis == BasisKind::Universal) {
      for (const auto& [d, count] : distinct_d) a.basis_params += static_cast<uint64_t>((f.K + 1) * d);
    }
    const double total = static_cast<double>(out.total_params);
    if (a.amplitude_params > 0) {
      a.compression_paper = total / static_cast<double>(a.amplitude_params);
      a.compression_analyzed = static_cast<double>(out.analyzed_params) / static_cast<double>(a.amplitude_params);
      a.compression_storage = total / static_cast<double>(a.amplitude_params + a.basis_params +
                                                           out.total_params - out.analyzed_params);
    }
    out.accounting.push_back(a);
  }
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.peak_rss_mb = peak_rss_mb();
  return out;
}

}  // namespace ctscope::ct
