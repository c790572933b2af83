// The candidates `eval-compression` runs: the original weights, an 8-bit per-row
// absmax quantization (a familiar reference point), and the CT reconstruction
// W_hat = A B for each (basis, K) - all over the same selection of matrices,
// built in memory one tensor at a time as LlamaWeights.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ct/basis.hpp"
#include "ct/basis_provider.hpp"
#include "ct/tensor_selection.hpp"
#include "io/checkpoint.hpp"
#include "runtime/llama_weights.hpp"

namespace ctscope {

struct Variant {
  enum class Kind { Original, Int8RowAbsmax, Ct } kind = Kind::Original;
  ct::BasisKind basis = ct::BasisKind::Gaussian;
  int K = 0;
  std::string label() const;  // "original", "int8 row-absmax", "gaussian K=64"
  std::string kind_name() const;  // "original", "int8", "ct"
};

struct VariantWeights {
  LlamaWeights weights;
  uint64_t matrices = 0, rows = 0, fitted_params = 0;  // the matrices this variant fits (or quantizes)
  uint64_t stored_params = 0;  // numbers a file of this variant holds (amplitudes, bases, scales, unfitted tensors)
  uint64_t stored_bytes = 0;   // with amplitudes/bases as F32, int8 as 1 byte + an F32 scale per row, the rest as in the source
  double sse = 0, sst = 0;     // over the selected matrices
  double pooled_r2() const { return sst > 0 ? 1 - sse / sst : 1; }
};

// What one K covers (spec "Coverage"): the selected matrices with d >= K are
// fitted; those with d < K stay as they are, for this K only, with the reason.
struct KCoverage {
  int K = 0;
  uint64_t matrices = 0, rows = 0, params = 0;
  std::vector<std::pair<std::string, std::string>> skipped;  // (name, reason)
};

class VariantBuilder {
 public:
  // Every selected matrix is quantized by int8 and fitted at each K <= its d;
  // seed: the random basis.
  VariantBuilder(const Checkpoint& ck, const ct::TensorSelection& selection, uint64_t seed);
  VariantWeights build(const Variant& v);
  const ct::Selection& selection() const { return sel_; }
  size_t matrices() const { return fitted_list_.size(); }  // selected data tensors (a tied alias counts once)
  KCoverage coverage(int K) const;

 private:
  // The data tensors v rewrites: for CT at K those with d >= K, for int8 all.
  std::vector<const TensorInfo*> rewritten_by(const Variant& v) const;
  std::vector<float> fitted_weights(const TensorInfo& t, const Variant& v, VariantWeights& out);
  const Checkpoint& ck_;
  ct::Selection sel_;
  std::vector<const TensorInfo*> fitted_list_;  // each selected data tensor once
  std::unique_ptr<ct::BasisProvider> bases_;    // each basis made once per run
};

}  // namespace ctscope
