// Bases for the matrices of one run, each made once: fixed bases (gaussian,
// dct, random) per (kind, K, d); universal bases per (K, d) from one pooled
// pass over all the run's matrices, on first use; svd bases per matrix, kept
// until the next matrix asks. analyze, compress and eval-compression share it.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "ct/basis.hpp"
#include "ct/universal_basis.hpp"
#include "io/checkpoint.hpp"
#include "linalg/matrix_view.hpp"

namespace ctscope::ct {

class BasisProvider {
 public:
  // `matrices` are the run's matrices (their data feeds the universal bases).
  BasisProvider(const Checkpoint& ck, std::vector<const TensorInfo*> matrices, uint64_t seed);

  // The basis of (kind, K) for matrix t, whose data is W. References stay valid
  // for the provider's life, except svd bases: until a different matrix asks.
  // Safe to call from several threads at once for the fixed and universal
  // kinds (one builds a missing basis while the others wait); not for svd,
  // whose basis the next matrix replaces.
  const FactoredBasis& get(BasisKind kind, int K, const TensorInfo& t, const linalg::MatrixView& W);

  // Distinct row lengths of the run's matrices (universal bases are stored once per d).
  std::vector<int64_t> row_lengths() const;

  // The pooled sums of the universal bases, made elsewhere (by MPI ranks,
  // dist/) from the same matrices in the same order, instead of the pass
  // over every matrix that the first universal request makes here.
  void use_pooled(std::map<int64_t, UniversalAccumulator> pooled);

 private:
  const Checkpoint& ck_;
  std::unique_ptr<std::mutex> mu_ = std::make_unique<std::mutex>();  // held by get (a pointer: the provider stays movable)
  std::vector<const TensorInfo*> matrices_;
  uint64_t seed_;
  std::map<std::tuple<BasisKind, int, int64_t>, FactoredBasis> shared_;  // fixed and universal
  std::map<int64_t, std::unique_ptr<UniversalAccumulator>> pooled_;     // filled on first universal request
  std::string svd_owner_;
  std::map<int, FactoredBasis> svd_;  // by K, for svd_owner_
};

}  // namespace ctscope::ct
