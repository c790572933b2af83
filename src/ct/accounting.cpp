#include "ct/accounting.hpp"

#include <set>

namespace ctscope::ct {

CtStorage ct_storage(BasisKind basis, int K, const std::vector<FittedShape>& fitted, uint64_t total_params) {
  CtStorage s;
  uint64_t fitted_params = 0;
  std::set<int64_t> row_lengths;
  for (const auto& f : fitted) {
    s.amplitude_params += static_cast<uint64_t>(K) * static_cast<uint64_t>(f.rows);
    fitted_params += static_cast<uint64_t>(f.rows * f.d);
    row_lengths.insert(f.d);
    if (basis == BasisKind::Svd) s.basis_params += static_cast<uint64_t>(K * f.d);
  }
  if (basis == BasisKind::Universal)
    for (int64_t d : row_lengths) s.basis_params += static_cast<uint64_t>((K + 1) * d);
  s.unfitted_params = total_params - fitted_params;
  return s;
}

}  // namespace ctscope::ct
