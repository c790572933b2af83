// The whole-model CT analysis: select matrices, stream them one at a time
// through analyze_matrix, and aggregate per layer, per role and per model with
// the accounting of docs/ct-analysis.md. Memory does not grow with the model:
// one tensor is in flight, and its pages are released after use.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "ct/basis.hpp"
#include "ct/matrix_analysis.hpp"
#include "ct/tensor_selection.hpp"
#include "io/checkpoint.hpp"
#include "util/progress.hpp"

namespace ctscope::ct {

struct AnalysisSettings {
  std::vector<int> Ks{8, 64};
  std::vector<BasisKind> bases{BasisKind::Gaussian};  // first is the primary; others shown beside it
  TensorSelection selection;
  bool svd_baseline = true;
  bool spectrum = false;
  uint64_t seed = 0x5eed;                             // random basis
};

struct MatrixRecord {
  std::string name;
  int layer = -1;
  Role role = Role::Other;
  DType dtype = DType::F32;
  MatrixResult result;  // fits ordered basis-major: for b in bases, for K in Ks
};

// Pooled numbers over a set of matrices for one (basis, K).
struct FitAggregate {
  BasisKind basis = BasisKind::Gaussian;
  int K = 0;
  double sse = 0, sst = 0, sse_svd = 0, sse_null = 0;  // sums over matrices
  double r2_sum = 0, amplitude_pr_sum = 0;
  int amplitude_n95_min = 0, amplitude_n95_max = 0;
  int64_t matrices = 0;
  double pooled_r2() const { return sst > 0 ? 1 - sse / sst : 0; }
  double pooled_r2_svd() const { return sst > 0 ? 1 - sse_svd / sst : 0; }
  double pooled_r2_null() const { return sst > 0 ? 1 - sse_null / sst : 0; }
  double mean_r2() const { return matrices ? r2_sum / static_cast<double>(matrices) : 0; }
  double mean_amplitude_pr() const { return matrices ? amplitude_pr_sum / static_cast<double>(matrices) : 0; }
  void add(const FitResult& f, double sst_matrix);
};

struct GroupSummary {  // a layer or a role
  int layer = -1;
  Role role = Role::Other;
  int64_t matrices = 0;
  double weight_pr_sum = 0;
  double mean_weight_pr() const { return matrices ? weight_pr_sum / static_cast<double>(matrices) : 0; }
  std::vector<FitAggregate> fits;  // same order as MatrixRecord::result.fits
};

struct Accounting {
  BasisKind basis = BasisKind::Gaussian;
  int K = 0;
  uint64_t amplitude_params = 0, basis_params = 0;
  double compression_paper = 0, compression_analyzed = 0, compression_storage = 0;
};

struct ModelAnalysis {
  std::string model_path, format;
  uint64_t total_params = 0, tensors = 0;
  AnalysisSettings settings;
  std::string selection;
  std::vector<MatrixRecord> matrices;
  std::vector<std::pair<std::string, std::string>> skipped;
  std::vector<GroupSummary> layers, roles;
  GroupSummary model;  // every analyzed matrix
  uint64_t rows = 0, analyzed_params = 0;
  std::vector<Accounting> accounting;  // same order as fits
  double wall_s = 0, peak_rss_mb = 0, flops = 0, bytes_read = 0;
};

// progress: after each matrix, with its name and the bytes streamed so far.
ModelAnalysis analyze_model(const Checkpoint& ck, const AnalysisSettings& s, const ProgressFn& progress = {});

}  // namespace ctscope::ct
