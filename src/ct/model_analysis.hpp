// The whole-model CT analysis: select matrices, stream them one at a time
// through analyze_matrix, and aggregate per layer, per role and per model with
// the accounting of docs/ct-analysis.md. Memory does not grow with the model:
// one tensor is in flight, and its pages are released after use.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ct/basis.hpp"
#include "ct/basis_provider.hpp"
#include "ct/matrix_analysis.hpp"
#include "ct/tensor_selection.hpp"
#include "io/checkpoint.hpp"
#include "util/progress.hpp"
#include "util/resource_usage.hpp"

namespace ctscope::ct {

struct AnalysisSettings {
  std::vector<int> Ks;  // empty: default_Ks() of the selection
  std::vector<BasisKind> bases{BasisKind::Gaussian};  // first is the primary; others shown beside it
  TensorSelection selection;
  bool svd_baseline = true;
  bool spectrum = false;
  uint64_t seed = 0x5eed;                             // random basis
};

// The K values used when none are given: d/256 and d/32 (Paper 68's 8 and 64
// at d = 2048), each rounded down to a power of two and at least 1, where d is
// the row length shared by the most selected rows (TinyLlama: 2048, of every
// projection but down_proj and of lm_head; down_proj's 5632 is fitted at the
// same K). Relative to the model, so that K < d for most matrices.
struct DefaultKs {
  std::vector<int> Ks;
  int64_t d = 0;  // the row length they derive from
};
DefaultKs default_Ks(const std::vector<const TensorInfo*>& matrices);

struct MatrixRecord {
  std::string name;
  int layer = -1;
  Role role = Role::Other;
  DType dtype = DType::F32;
  MatrixResult result;  // fits ordered basis-major: for b in bases, for K in Ks; fitted = false where d < K
};

// A tensor left out of the run (K = 0) or out of one K only (d < K).
struct SkippedTensor {
  std::string name, reason;
  int K = 0;
};

// Pooled sums over a set of fits; `r2_bound` is each fit's own class optimum.
struct FitPool {
  double sse = 0, sst = 0, sse_svd = 0, sse_bound = 0, sse_null = 0;
  double r2_sum = 0, amplitude_pr_sum = 0, amplitude_pr_null_sum = 0, amplitude_pr_ratio_sum = 0;
  int64_t matrices = 0;
  double pooled_r2() const { return sst > 0 ? 1 - sse / sst : 0; }
  double pooled_r2_svd() const { return sst > 0 ? 1 - sse_svd / sst : 0; }
  double pooled_r2_bound() const { return sst > 0 ? 1 - sse_bound / sst : 0; }
  double pooled_r2_null() const { return sst > 0 ? 1 - sse_null / sst : 0; }
  double mean(double sum) const { return matrices ? sum / static_cast<double>(matrices) : 0; }
  void add(const FitResult& f, double sst_matrix);
};

// Pooled numbers over a set of matrices for one (basis, K): over every fitted
// matrix (`all`) and over the non-trivial ones (K < d), which verdicts use.
struct FitAggregate {
  BasisKind basis = BasisKind::Gaussian;
  int K = 0;
  FitPool all, nontrivial;
  int amplitude_n95_min = 0, amplitude_n95_max = 0;
  uint64_t rows = 0, params = 0;  // of the fitted matrices (the accounting's rows and analyzed_params at this K)
  int64_t matrices() const { return all.matrices; }
  int64_t trivial() const { return all.matrices - nontrivial.matrices; }
  double pooled_r2() const { return all.pooled_r2(); }
  double pooled_r2_svd() const { return all.pooled_r2_svd(); }
  double pooled_r2_bound() const { return all.pooled_r2_bound(); }
  double pooled_r2_null() const { return all.pooled_r2_null(); }
  double mean_r2() const { return all.mean(all.r2_sum); }
  double mean_amplitude_pr() const { return all.mean(all.amplitude_pr_sum); }
  double mean_amplitude_pr_null() const { return all.mean(all.amplitude_pr_null_sum); }
  double mean_amplitude_pr_ratio() const { return all.mean(all.amplitude_pr_ratio_sum); }
  void add(const FitResult& f, const MatrixResult& m);
};

struct GroupSummary {  // a layer or a role
  int layer = -1;
  Role role = Role::Other;
  int64_t matrices = 0;
  double weight_pr_sum = 0, stable_rank_sum = 0;
  double mean_weight_pr() const { return matrices ? weight_pr_sum / static_cast<double>(matrices) : 0; }
  double mean_stable_rank() const { return matrices ? stable_rank_sum / static_cast<double>(matrices) : 0; }
  std::vector<FitAggregate> fits;  // same order as MatrixRecord::result.fits
};

struct Accounting {
  BasisKind basis = BasisKind::Gaussian;
  int K = 0;
  uint64_t rows = 0, analyzed_params = 0;  // fitted at this K
  uint64_t amplitude_params = 0, basis_params = 0;
  double compression_paper = 0, compression_analyzed = 0, compression_storage = 0;
};

struct ModelAnalysis {
  std::string model_path, format;
  uint64_t total_params = 0, tensors = 0;
  AnalysisSettings settings;  // Ks as used (the defaults filled in)
  DefaultKs default_Ks;       // d = 0 when --K was given
  std::string selection;
  std::vector<MatrixRecord> matrices;  // fitted at one K at least
  std::vector<SkippedTensor> skipped;
  std::vector<GroupSummary> layers, roles;
  GroupSummary model;  // every analyzed matrix
  uint64_t rows = 0, analyzed_params = 0;  // of every analyzed matrix (each K's own: FitAggregate, Accounting)
  std::vector<Accounting> accounting;  // same order as fits
  double wall_s = 0, peak_rss_mb = 0, flops = 0, bytes_read = 0;
  int lanes = 1;  // matrices analyzed side by side (analyze_model's lanes)
  // The kernels the arithmetic ran on (on rank 0, for MPI): the Gram of BF16
  // matrices (linalg::bf16_gram_kernel) and OpenBLAS's core, so a timing
  // can be read against the path that made it.
  std::string bf16_gram_kernel, blas_core;
};

// Records of matrices computed before (the run journal, --journal): a matrix
// found there is not computed again; every matrix computed is added.
class RecordStore {
 public:
  virtual ~RecordStore() = default;
  virtual std::optional<MatrixRecord> find(const std::string& name) = 0;
  virtual void add(const MatrixRecord& r) = 0;
};

// progress: after each matrix, with its name and the bytes streamed so far.
// Throws Error when nothing can be fitted at any K (require_fittable), or when
// no selected matrix could be analyzed (NaN/Inf in every one). A matrix that
// cannot be analyzed is listed in `skipped` with the reason and the run goes on.
//
// lanes: matrices analyzed side by side, each on one core (every matrix's
// numbers are those of a run with one lane: see parallel_tasks). 0: as many
// as the machine has cores, fewer where analysis_lanes says memory is short.
// On two cores this is ~25 % faster than one matrix at a time on both cores:
// a single matrix's stages (Gram, Krylov steps, small solves) split in two
// pay a hand-over per step and leave one core idle in their serial parts.
ModelAnalysis analyze_model(const Checkpoint& ck, const AnalysisSettings& s, const ProgressFn& progress = {},
                            RecordStore* store = nullptr, int lanes = 1);

// analyze_model in its three steps, for runs that compute the matrices
// elsewhere (other MPI ranks: dist/) and must give the same result: the plan
// settles all that needs no data, each matrix makes one record on its own
// (given the run's bases), and the result is built from the records alone.
struct AnalysisPlan {
  ModelAnalysis out;       // model, settings (Ks filled in), selection and the tensors it leaves out
  Selection sel;           // sel.matrices: every selected matrix (the universal bases pool them all)
  std::vector<size_t> jobs;  // indices into sel.matrices fitted at one K at least, one record each
  Stopwatch clock;         // started by plan_analysis: the run's wall time
};
// Throws Error like analyze_model for a run that can fit nothing.
AnalysisPlan plan_analysis(const Checkpoint& ck, const AnalysisSettings& s);
// The bases of a planned run (the universal ones pooled over plan.sel.matrices).
BasisProvider plan_bases(const Checkpoint& ck, const AnalysisPlan& plan);
// The record of plan.sel.matrices[i]; result.error says why it could not be
// analyzed (never throws for that). Releases the matrix's pages.
MatrixRecord analyze_planned_matrix(const Checkpoint& ck, const AnalysisPlan& plan, BasisProvider& bases, size_t i);
// The result from records[j] of plan.jobs[j] (any process may have computed
// them); bytes_read: what this run streamed. Throws Error when nothing was fitted.
ModelAnalysis finish_analysis(AnalysisPlan plan, std::vector<MatrixRecord> records, double bytes_read);

// Lane memory, measured (peak RSS: TinyLlama 233 MB with one lane, 313 MB
// with two; 7B 810-896 MiB with two): the process ~30 MB, per lane ~14-17
// bytes per entry of the largest Gram it met (the upper triangles of G in
// double and float, the packed float copy the Krylov products read, the
// Krylov columns in use, panel scratch), plus the pages of the matrices in
// flight. 18 leaves a margin.
inline constexpr double kLaneBaseBytes = 64.0 * 1024 * 1024, kLaneBytesPerGramEntry = 18.0;
inline constexpr double kLaneMemoryBudget = 1e9;  // the 1 GB a 7B analysis must stay under
// The lanes analyze_model runs for `requested` (0: automatic): 1 for svd and
// universal bases (per-matrix and pooled bases go in order), at most one per
// job and one per core (worker_count). Automatic: one per core when their
// buffers and the run's largest matrix fit kLaneMemoryBudget (analyze_model
// then holds the matrices in flight to what is left), else one lane with
// every core (never fewer cores at work). Two cores: TinyLlama and 7B both
// get two lanes.
int analysis_lanes(const AnalysisPlan& plan, int requested);

}  // namespace ctscope::ct
