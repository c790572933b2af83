#include "ct/model_analysis.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "ct/accounting.hpp"
#include "ct/basis_provider.hpp"
#include "ct/stored_matrix.hpp"
#include "linalg/blas_core.hpp"
#include "linalg/blas_threads.hpp"
#include "linalg/gram.hpp"
#include "util/error.hpp"
#include "util/in_flight_budget.hpp"
#include "util/resource_usage.hpp"
#include "util/thread_pool.hpp"

namespace ctscope::ct {

DefaultKs default_Ks(const std::vector<const TensorInfo*>& matrices) {
  std::map<int64_t, int64_t> rows_by_d;
  for (const auto* t : matrices) rows_by_d[t->cols()] += t->rows();
  DefaultKs out;
  int64_t most = -1;
  for (const auto& [d, rows] : rows_by_d)
    if (rows > most) {  // ties: the shorter d (map order), so K stays below it
      most = rows;
      out.d = d;
    }
  if (out.d == 0) return out;
  auto pow2_floor = [](int64_t x) {
    int64_t p = 1;
    while (2 * p <= x) p *= 2;
    return static_cast<int>(p);
  };
  out.Ks = {pow2_floor(out.d / 256), pow2_floor(out.d / 32)};
  out.Ks.erase(std::unique(out.Ks.begin(), out.Ks.end()), out.Ks.end());
  return out;
}

void FitPool::add(const FitResult& f, double sst_matrix) {
  sse += f.sse;
  sst += sst_matrix;
  sse_svd += (1 - f.r2_svd) * sst_matrix;
  sse_bound += (1 - f.r2_bound) * sst_matrix;
  sse_null += (1 - f.r2_null) * sst_matrix;
  r2_sum += f.r2;
  amplitude_pr_sum += f.amplitude_pr;
  amplitude_pr_null_sum += f.amplitude_pr_null;
  amplitude_pr_ratio_sum += f.amplitude_pr_ratio();
  ++matrices;
}

void FitAggregate::add(const FitResult& f, const MatrixResult& m) {
  if (!f.fitted) return;
  if (all.matrices == 0) {
    amplitude_n95_min = amplitude_n95_max = f.amplitude_n95;
  } else {
    amplitude_n95_min = std::min(amplitude_n95_min, f.amplitude_n95);
    amplitude_n95_max = std::max(amplitude_n95_max, f.amplitude_n95);
  }
  all.add(f, m.sst);
  if (!f.trivial) nontrivial.add(f, m.sst);
  rows += static_cast<uint64_t>(m.n);
  params += static_cast<uint64_t>(m.n * m.d);
}

namespace {

// The fits of one matrix in the full basis-major order: those analyze_matrix
// made (K <= d) and a placeholder (fitted = false) for every K > d.
std::vector<FitResult> with_placeholders(const AnalysisSettings& s, int64_t d, std::vector<FitResult> made) {
  std::vector<FitResult> fits;
  size_t next = 0;
  for (BasisKind b : s.bases)
    for (int K : s.Ks) {
      if (K <= d) {
        fits.push_back(made.at(next++));
      } else {
        FitResult f;
        f.basis = b;
        f.K = K;
        f.fitted = false;
        fits.push_back(f);
      }
    }
  return fits;
}

// Each selected matrix's record (plan.jobs) and the K at which it is left out
// (d < K), in selection order: out.matrices, out.skipped and the flops.
void collect_records(const AnalysisPlan& plan, std::vector<MatrixRecord> records, ModelAnalysis& out) {
  if (records.size() != plan.jobs.size())
    throw Error(fmt::format("analysis: {} records for {} matrices", records.size(), plan.jobs.size()));
  size_t next = 0;
  for (size_t i = 0; i < plan.sel.matrices.size(); ++i) {
    const TensorInfo& t = *plan.sel.matrices[i];
    for (int K : out.settings.Ks)
      if (K > t.cols()) out.skipped.push_back({t.name, fmt::format("row length d={} < K={}", t.cols(), K), K});
    if (next == plan.jobs.size() || plan.jobs[next] != i) continue;
    MatrixRecord& rec = records[next++];
    if (rec.name != t.name) throw Error(fmt::format("analysis: the record of {} is named {}", t.name, rec.name));
    out.flops += rec.result.flops;
    if (!rec.result.error.empty()) {
      out.skipped.push_back({t.name, rec.result.error, 0});
    } else {
      out.matrices.push_back(std::move(rec));
    }
  }
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
    g.stable_rank_sum += r.result.stable_rank;
    for (size_t k = 0; k < g.fits.size(); ++k) g.fits[k].add(r.result.fits[k], r.result);
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

// The three compression ratios of every (basis, K), from ct_storage over the
// matrices fitted at that K.
void account(ModelAnalysis& out) {
  const double total = static_cast<double>(out.total_params);
  for (size_t i = 0; i < out.model.fits.size(); ++i) {
    const FitAggregate& f = out.model.fits[i];
    std::vector<FittedShape> fitted;
    for (const auto& r : out.matrices)
      if (r.result.fits[i].fitted) fitted.push_back({r.result.n, r.result.d});
    const CtStorage st = ct_storage(f.basis, f.K, fitted, out.total_params);
    Accounting a;
    a.basis = f.basis;
    a.K = f.K;
    a.rows = f.rows;
    a.analyzed_params = f.params;
    a.amplitude_params = st.amplitude_params;
    a.basis_params = st.basis_params;
    if (a.amplitude_params > 0) {
      a.compression_paper = total / static_cast<double>(a.amplitude_params);
      a.compression_analyzed = static_cast<double>(f.params) / static_cast<double>(a.amplitude_params);
      a.compression_storage = total / static_cast<double>(st.params());
    }
    out.accounting.push_back(a);
  }
}

// Why a run that could fit something fitted nothing, in one line.
std::string nothing_analyzed(const ModelAnalysis& out, const Selection& sel) {
  return fmt::format("nothing fitted: none of the {} selected matrices could be analyzed (last: {}: {})",
                     sel.matrices.size(), out.skipped.empty() ? "" : out.skipped.back().name,
                     out.skipped.empty() ? "" : out.skipped.back().reason);
}

}  // namespace

AnalysisPlan plan_analysis(const Checkpoint& ck, const AnalysisSettings& s) {
  if (s.bases.empty()) throw Error("--basis: no basis given");
  AnalysisPlan plan;
  ModelAnalysis& out = plan.out;
  out.model_path = ck.path.string();
  out.format = std::string(format_name(ck.format));
  out.total_params = ck.total_params();
  out.tensors = ck.tensors.size();
  out.settings = s;
  // Rows shorter than a K are left out at that K only (collect_records).
  plan.sel = select_tensors(ck, s.selection, 1);
  const Selection& sel = plan.sel;
  out.selection = sel.description;
  for (const auto& [name, why] : sel.skipped) out.skipped.push_back({name, why, 0});
  if (out.settings.Ks.empty()) {
    out.default_Ks = default_Ks(sel.matrices);
    out.settings.Ks = out.default_Ks.Ks;
  }
  std::sort(out.settings.Ks.begin(), out.settings.Ks.end());
  out.settings.Ks.erase(std::unique(out.settings.Ks.begin(), out.settings.Ks.end()), out.settings.Ks.end());
  if (!out.settings.Ks.empty() && out.settings.Ks.front() < 1) throw Error("--K: every K must be at least 1");
  // Before the long pass: a run that can fit nothing is an error at once.
  require_fittable(sel, out.settings.Ks, out.model_path);
  const int kmin = out.settings.Ks.front();
  for (size_t i = 0; i < sel.matrices.size(); ++i)
    if (sel.matrices[i]->cols() >= kmin) plan.jobs.push_back(i);
  return plan;
}

BasisProvider plan_bases(const Checkpoint& ck, const AnalysisPlan& plan) {
  return BasisProvider(ck, plan.sel.matrices, plan.out.settings.seed);
}

MatrixRecord analyze_planned_matrix(const Checkpoint& ck, const AnalysisPlan& plan, BasisProvider& bases, size_t i) {
  const AnalysisSettings& s = plan.out.settings;
  const TensorInfo& t = *plan.sel.matrices.at(i);
  const int64_t d = t.cols();
  const linalg::MatrixView W = stored_matrix(ck, t);
  MatrixRecord rec{t.name, t.layer, t.role, t.dtype, {}};
  try {
    MatrixAnalysisOptions opt;
    opt.svd_baseline = s.svd_baseline;
    opt.spectrum = s.spectrum;
    for (BasisKind b : s.bases)
      for (int K : s.Ks)
        if (K <= d) opt.bases.push_back(&bases.get(b, K, t, W));
    rec.result = analyze_matrix(W, opt);
    if (rec.result.error.empty()) rec.result.fits = with_placeholders(s, d, std::move(rec.result.fits));
  } catch (const Error& e) {  // one matrix that cannot be analyzed does not end the run
    rec.result.error = fmt::format("cannot be analyzed: {}", e.what());
  }
  ck.release(t);
  return rec;
}

ModelAnalysis finish_analysis(AnalysisPlan plan, std::vector<MatrixRecord> records, double bytes_read) {
  ModelAnalysis out = std::move(plan.out);
  collect_records(plan, std::move(records), out);
  out.bytes_read = bytes_read;
  if (out.matrices.empty()) fail(out.model_path, "{}", nothing_analyzed(out, plan.sel));
  aggregate(out.settings, out);
  account(out);
  out.wall_s = plan.clock.seconds();
  out.peak_rss_mb = peak_rss_mb();
  out.bf16_gram_kernel = linalg::bf16_gram_kernel();
  out.blas_core = linalg::blas_core();
  return out;
}

namespace {

// How many lanes, and the bytes of matrices they may read at once.
struct LanePlan {
  int lanes = 1;
  double in_flight_cap = INFINITY;
};

LanePlan plan_lanes(const AnalysisPlan& plan, int requested) {
  for (BasisKind b : plan.out.settings.bases)
    if (b == BasisKind::Svd || b == BasisKind::Universal) return {};  // per-matrix and pooled bases: in order
  // More lanes than cores or matrices would only wait.
  const int most = static_cast<int>(std::min<size_t>(std::max<size_t>(plan.jobs.size(), 1), worker_count()));
  if (requested > 0) return {std::min(requested, most), INFINITY};
  // What a lane keeps (its buffers, sized by the largest Gram it meets) and
  // the largest matrix it reads.
  double buffers = 0, largest_matrix = 0;
  for (size_t i : plan.jobs) {
    const TensorInfo& t = *plan.sel.matrices[i];
    const double m = static_cast<double>(std::min(t.rows(), t.cols()));
    buffers = std::max(buffers, kLaneBytesPerGramEntry * m * m);
    largest_matrix = std::max(largest_matrix, static_cast<double>(t.nbytes));
  }
  // One lane per core where every lane's buffers and the largest matrix fit,
  // the matrices in flight then held to the rest; else one lane with every
  // core: never fewer cores at work.
  const double left = kLaneMemoryBudget - kLaneBaseBytes - most * buffers;
  if (largest_matrix <= left) return {most, left};
  return {1, kLaneMemoryBudget - kLaneBaseBytes - buffers};
}

}  // namespace

int analysis_lanes(const AnalysisPlan& plan, int requested) { return plan_lanes(plan, requested).lanes; }

ModelAnalysis analyze_model(const Checkpoint& ck, const AnalysisSettings& s, const ProgressFn& progress,
                            RecordStore* store, int lanes) {
  AnalysisPlan plan = plan_analysis(ck, s);
  BasisProvider bases = plan_bases(ck, plan);
  std::vector<std::optional<MatrixRecord>> records(plan.jobs.size());
  std::vector<size_t> todo;  // indices into plan.jobs still to compute
  for (size_t j = 0; j < plan.jobs.size(); ++j) {
    if (store) records[j] = store->find(plan.sel.matrices[plan.jobs[j]]->name);
    if (!records[j]) todo.push_back(j);
  }
  size_t finished = plan.jobs.size() - todo.size();
  double bytes = 0;
  std::mutex mu;  // records, the store, the progress and its counts
  const linalg::ScopedBlasThreads serial_blas(1);  // for every lane: they run side by side
  const LanePlan lane_plan = plan_lanes(plan, lanes);
  InFlightBudget in_flight(lane_plan.in_flight_cap);
  parallel_tasks(static_cast<int64_t>(todo.size()), lane_plan.lanes, [&](int64_t task, int) {
    const size_t j = todo[static_cast<size_t>(task)];
    const TensorInfo& t = *plan.sel.matrices[plan.jobs[j]];
    const auto nbytes = static_cast<double>(t.nbytes);
    const InFlightBudget::Hold reading(in_flight, nbytes);
    MatrixRecord rec = analyze_planned_matrix(ck, plan, bases, plan.jobs[j]);
    const std::lock_guard lock(mu);
    bytes += nbytes;
    if (store) store->add(rec);
    records[j] = std::move(rec);
    if (progress) progress(++finished, plan.jobs.size(), t.name, bytes);
  });
  std::vector<MatrixRecord> ordered;
  ordered.reserve(records.size());
  for (auto& r : records) ordered.push_back(std::move(*r));
  ModelAnalysis out = finish_analysis(std::move(plan), std::move(ordered), bytes);
  out.lanes = lane_plan.lanes;
  return out;
}

}  // namespace ctscope::ct
