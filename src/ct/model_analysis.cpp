#include "ct/model_analysis.hpp"

#include <algorithm>
#include <map>

#include "ct/accounting.hpp"
#include "ct/basis_provider.hpp"
#include "ct/stored_matrix.hpp"
#include "util/error.hpp"
#include "util/resource_usage.hpp"

namespace ctscope::ct {

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

namespace {

// Streams every selected matrix through analyze_matrix: out.matrices, the
// matrices that could not be analyzed in out.skipped, flops and bytes.
void analyze_matrices(const Checkpoint& ck, const AnalysisSettings& s, const Selection& sel, ModelAnalysis& out,
                      const ProgressFn& progress) {
  BasisProvider bases(ck, sel.matrices, s.seed);
  double bytes = 0;
  for (size_t i = 0; i < sel.matrices.size(); ++i) {
    const TensorInfo& t = *sel.matrices[i];
    const linalg::MatrixView W = stored_matrix(ck, t);
    MatrixRecord rec{t.name, t.layer, t.role, t.dtype, {}};
    try {
      MatrixAnalysisOptions opt;
      opt.svd_baseline = s.svd_baseline;
      opt.spectrum = s.spectrum;
      for (BasisKind b : s.bases)
        for (int K : s.Ks) opt.bases.push_back(&bases.get(b, K, t, W));
      rec.result = analyze_matrix(W, opt);
    } catch (const Error& e) {  // one matrix that cannot be analyzed does not end the run
      rec.result.error = fmt::format("cannot be analyzed: {}", e.what());
    }
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
}

// Per layer, per role and over the model; rows and analyzed_params.
void aggregate(const AnalysisSettings& s, ModelAnalysis& out) {
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
  }
  for (auto& [l, g] : layers) out.layers.push_back(std::move(g));
  for (auto& [r, g] : roles) out.roles.push_back(std::move(g));
}

// The three compression ratios of every (basis, K), from ct_storage.
void account(ModelAnalysis& out) {
  std::vector<FittedShape> fitted;
  for (const auto& r : out.matrices) fitted.push_back({r.result.n, r.result.d});
  const double total = static_cast<double>(out.total_params);
  for (const auto& f : out.model.fits) {
    const CtStorage st = ct_storage(f.basis, f.K, fitted, out.total_params);
    Accounting a;
    a.basis = f.basis;
    a.K = f.K;
    a.amplitude_params = st.amplitude_params;
    a.basis_params = st.basis_params;
    if (a.amplitude_params > 0) {
      a.compression_paper = total / static_cast<double>(a.amplitude_params);
      a.compression_analyzed = static_cast<double>(out.analyzed_params) / static_cast<double>(a.amplitude_params);
      a.compression_storage = total / static_cast<double>(st.params());
    }
    out.accounting.push_back(a);
  }
}

}  // namespace

ModelAnalysis analyze_model(const Checkpoint& ck, const AnalysisSettings& s, const ProgressFn& progress) {
  const Stopwatch clock;
  if (s.Ks.empty()) throw Error("--K: no K given");
  if (s.bases.empty()) throw Error("--basis: no basis given");
  ModelAnalysis out;
  out.model_path = ck.path.string();
  out.format = std::string(format_name(ck.format));
  out.total_params = ck.total_params();
  out.tensors = ck.tensors.size();
  out.settings = s;
  const Selection sel = select_tensors(ck, s.selection, *std::max_element(s.Ks.begin(), s.Ks.end()));
  out.selection = sel.description;
  out.skipped = sel.skipped;

  analyze_matrices(ck, s, sel, out, progress);
  aggregate(s, out);
  account(out);
  out.wall_s = clock.seconds();
  out.peak_rss_mb = peak_rss_mb();
  return out;
}

}  // namespace ctscope::ct
