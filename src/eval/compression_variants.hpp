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
  uint64_t stored_params = 0;  // numbers a file of this variant holds (amplitudes, bases, scales, unfitted tensors)
  uint64_t stored_bytes = 0;   // with amplitudes/bases as F32, int8 as 1 byte + an F32 scale per row, the rest as in the source
  double sse = 0, sst = 0;     // over the selected matrices
  double pooled_r2() const { return sst > 0 ? 1 - sse / sst : 1; }
};

class VariantBuilder {
 public:
  // min_row_length: the largest K (shorter rows are not fitted); seed: the random basis.
  VariantBuilder(const Checkpoint& ck, const ct::TensorSelection& selection, int64_t min_row_length, uint64_t seed);
  VariantWeights build(const Variant& v);
  const ct::Selection& selection() const { return sel_; }

 private:
  std::vector<float> fitted_weights(const TensorInfo& t, const Variant& v, VariantWeights& out);
  const Checkpoint& ck_;
  ct::Selection sel_;
  std::vector<const TensorInfo*> fitted_list_;       // each fitted data tensor once
  std::map<std::string, const TensorInfo*> fitted_;  // the same, by name
  std::unique_ptr<ct::BasisProvider> bases_;         // each basis made once per run
};

}  // namespace ctscope
