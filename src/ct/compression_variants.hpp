// The candidates `eval-compression` runs: the original weights, an 8-bit per-row
// absmax quantization (a familiar reference point), and the CT reconstruction
// W_hat = A B for each (basis, K) - all over the same selection of matrices,
// built in memory one tensor at a time as LlamaWeights.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ct/basis.hpp"
#include "ct/basis_provider.hpp"
#include "ct/matrix_analysis.hpp"
#include "ct/model_analysis.hpp"
#include "eval/llama_weights.hpp"
#include "io/checkpoint.hpp"

namespace ctscope::ct {

struct Variant {
  enum class Kind { Original, Int8RowAbsmax, Ct } kind = Kind::Original;
  BasisKind basis = BasisKind::Gaussian;
  int K = 0;
  std::string label() const;  // "original", "int8 row-absmax", "gaussian K=64"
};

struct VariantWeights {
  LlamaWeights weights;
  uint64_t stored_params = 0;  // numbers a file of this variant holds (amplitudes, bases, scales, unfitted tensors)
  uint64_t stored_bytes = 0;   // with amplitudes/bases as F32, int8 as 1 byte + an F32 scale per row, the rest as in the source
  double sse = 0, sst = 0;     // over the selected matrices
  double pooled_r2() const { return sst > 0 ? 1 - sse / sst : 1; }
};

class VariantBuilder {
 public:
  VariantBuilder(const Checkpoint& ck, const AnalysisSettings& selection);
  VariantWeights build(const Variant& v);
  const Selection& selection() const { return sel_; }

 private:
  std::vector<float> fitted_weights(const TensorInfo& t, const Variant& v, VariantWeights& out);
  const Checkpoint& ck_;
  AnalysisSettings settings_;
  Selection sel_;
  std::map<std::string, const TensorInfo*> fitted_;  // by data name (aliases resolved)
  std::unique_ptr<BasisProvider> bases_;  // each basis made once per run
};

}  // namespace ctscope::ct
