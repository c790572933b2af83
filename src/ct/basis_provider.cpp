#include "ct/basis_provider.hpp"

#include "ct/svd_basis.hpp"
#include "util/error.hpp"

namespace ctscope::ct {

BasisProvider::BasisProvider(const Checkpoint& ck, std::vector<const TensorInfo*> matrices, uint64_t seed)
    : ck_(ck), matrices_(std::move(matrices)), seed_(seed) {}

std::vector<int64_t> BasisProvider::row_lengths() const {
  std::map<int64_t, bool> d;
  for (const auto* t : matrices_) d[t->cols()] = true;
  std::vector<int64_t> out;
  for (const auto& [len, _] : d) out.push_back(len);
  return out;
}

void BasisProvider::use_pooled(std::map<int64_t, UniversalAccumulator> pooled) {
  pooled_.clear();
  for (auto& [d, acc] : pooled) pooled_[d] = std::make_unique<UniversalAccumulator>(std::move(acc));
}

const FactoredBasis& BasisProvider::get(BasisKind kind, int K, const TensorInfo& t, const linalg::MatrixView& W) {
  const std::lock_guard lock(*mu_);
  const int64_t d = t.cols();
  if (kind == BasisKind::Svd) {
    if (svd_owner_ != t.name) {
      svd_.clear();
      svd_owner_ = t.name;
    }
    auto it = svd_.find(K);
    if (it == svd_.end()) it = svd_.emplace(K, svd_basis(W, K)).first;
    return it->second;
  }
  const auto key = std::make_tuple(kind, K, d);
  if (auto it = shared_.find(key); it != shared_.end()) return it->second;
  if (kind != BasisKind::Universal) return shared_.emplace(key, make_fixed_basis(kind, K, d, seed_)).first->second;
  if (pooled_.empty()) {  // one pass over every matrix of the run, then its pages are released
    for (const auto* m : matrices_) {
      auto& a = pooled_[m->cols()];
      if (!a) a = std::make_unique<UniversalAccumulator>(m->cols());
      a->add({m->dtype, ck_.bytes(*m).data(), m->rows(), m->cols()});
      ck_.release(*m);
    }
  }
  auto acc = pooled_.find(d);
  if (acc == pooled_.end()) throw Error(fmt::format("universal basis: {} is not one of the run's matrices", t.name));
  return shared_.emplace(key, acc->second->basis(K)).first->second;
}

}  // namespace ctscope::ct
