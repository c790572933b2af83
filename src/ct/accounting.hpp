// The storage accounting of docs/ct-analysis.md ("Accounting"), in one place:
// what a CT-compressed model must hold. analyze's compression_storage,
// eval-compression's stored sizes and compress's summary all come from here.
#pragma once
#include <cstdint>
#include <vector>

#include "ct/basis.hpp"

namespace ctscope::ct {

struct FittedShape {
  int64_t rows = 0, d = 0;
};

struct CtStorage {
  uint64_t amplitude_params = 0;  // K per fitted row
  uint64_t basis_params = 0;      // svd: K x d per matrix; universal: K x d + d per distinct d; else 0 (implied by K, d)
  uint64_t unfitted_params = 0;   // every other parameter of the checkpoint, stored as it is
  uint64_t params() const { return amplitude_params + basis_params + unfitted_params; }
  // Bytes of a file with amplitudes and bases in F32 (as `compress` writes
  // them) and the unfitted tensors as in the source (unfitted_bytes).
  uint64_t bytes(uint64_t unfitted_bytes) const { return unfitted_bytes + 4 * (amplitude_params + basis_params); }
};

// `fitted`: each fitted matrix once; total_params: the whole checkpoint's.
CtStorage ct_storage(BasisKind basis, int K, const std::vector<FittedShape>& fitted, uint64_t total_params);

}  // namespace ctscope::ct
