#include "train/ct_parameters.hpp"

#include <map>

#include "ct/amplitudes.hpp"
#include "ct/basis_provider.hpp"
#include "ct/stored_matrix.hpp"
#include "ctfile/ct_reader.hpp"
#include "runtime/llama_weights.hpp"
#include "util/error.hpp"

namespace ctscope::train {

namespace {
std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }
}  // namespace

ParameterSet<float> ct_parameter_set(const Checkpoint& ck, const CtTrainSettings& s) {
  ctfile::require_dense(ck, "amplitude training", "start from the source model");
  ParameterSet<float> ps(train_weights_from<float>(load_llama_weights(ck)));
  const ct::Selection sel = ct::select_tensors(ck, s.fit.selection, s.fit.K);
  const std::vector<const TensorInfo*> matrices = ct::tensors_to_fit(ck, sel);
  ct::BasisProvider bases(ck, matrices, s.fit.seed);
  const bool fitted_basis = s.fit.basis == ct::BasisKind::Svd || s.fit.basis == ct::BasisKind::Universal;
  std::map<int64_t, int> shared;  // row length -> basis id (fixed and universal bases)
  for (const TensorInfo* t : matrices) {
    const linalg::MatrixView W = ct::stored_matrix(ck, *t);
    const ct::FactoredBasis& b = bases.get(s.fit.basis, s.fit.K, *t, W);
    int id = -1;
    if (s.fit.basis == ct::BasisKind::Svd) {
      id = ps.add_basis(t->name, s.fit.K, t->cols(), to_float(b.B), {}, s.train_basis);
    } else if (auto it = shared.find(t->cols()); it != shared.end()) {
      id = it->second;
    } else {
      id = ps.add_basis(fmt::format("ct.{}.d{}", ct::basis_name(s.fit.basis), t->cols()), s.fit.K, t->cols(), to_float(b.B),
                        to_float(b.offset), fitted_basis && s.train_basis);
      shared[t->cols()] = id;
    }
    ps.add_amplitudes(t->layer, t->role, id, ct::fit_rows(W, b).A);
    ck.release(*t);
  }
  if (s.norms) {
    const ModelConfig& c = ps.weights().config;
    for (int l = 0; l < static_cast<int>(c.n_layers); ++l) {
      ps.add_dense(l, Role::InputLayernorm);
      ps.add_dense(l, Role::PostAttentionLayernorm);
    }
    ps.add_dense(-1, Role::Norm);
  }
  return ps;
}

}  // namespace ctscope::train
