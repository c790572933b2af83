#include "train/trainable.hpp"

#include <charconv>
#include <map>
#include <optional>
#include <set>

#include <fmt/ranges.h>

#include "ct/accounting.hpp"
#include "ct/amplitudes.hpp"
#include "ct/basis_provider.hpp"
#include "ct/stored_matrix.hpp"
#include "ctfile/ct_format.hpp"
#include "ctfile/ct_reader.hpp"
#include "runtime/llama_weights.hpp"
#include "util/error.hpp"

namespace ctscope::train {

using Kind = Trainable::Kind;

Trainable Trainable::parse(std::string_view s) {
  if (s == "amplitudes") return {Kind::Amplitudes};
  if (s == "amplitudes+norms") return {Kind::AmplitudesNorms};
  if (s == "full") return {Kind::Full};
  if (s.starts_with("lora:")) {
    const std::string_view r = s.substr(5);
    int64_t rank = 0;
    const auto [end, ec] = std::from_chars(r.data(), r.data() + r.size(), rank);
    if (!r.empty() && ec == std::errc() && end == r.data() + r.size() && rank >= 1) return {Kind::Lora, rank};
  }
  throw Error(fmt::format("--trainable '{}': expected amplitudes, amplitudes+norms, lora:R (R a whole number >= 1) "
                          "or full",
                          s));
}

std::string Trainable::name() const {
  switch (kind) {
    case Kind::Amplitudes: return "amplitudes";
    case Kind::AmplitudesNorms: return "amplitudes+norms";
    case Kind::Lora: return fmt::format("lora:{}", lora_rank);
    case Kind::Full: return "full";
  }
  return "?";
}

namespace {

std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

std::string shape_text(const std::vector<int64_t>& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

// The init file, refused (one line naming it) unless it holds the source's
// model, compressed as the settings say, with the matrices they select fitted.
void check_init(const ctfile::CtReader& init, const Checkpoint& source, const StartSettings& s,
                const std::vector<const TensorInfo*>& matrices) {
  const std::string& where = s.init;
  if (init.basis() != s.fit.basis)
    fail(where, "its basis is {}, the settings ask for {}", ct::basis_name(init.basis()), ct::basis_name(s.fit.basis));
  if (init.K() != s.fit.K) fail(where, "its K is {}, the settings ask for K = {}", init.K(), s.fit.K);
  if (s.fit.basis == ct::BasisKind::Random && init.seed() != s.fit.seed)
    fail(where, "its random basis has seed {}, the settings ask for seed {}", init.seed(), s.fit.seed);
  std::map<std::string, const ctfile::CtReader::Entry*> entries;
  for (const auto& e : init.entries()) entries[e.name] = &e;
  if (entries.size() != source.tensors.size())
    fail(where, "its model has {} tensors, the source {} has {}", entries.size(), source.path.string(),
         source.tensors.size());
  for (const auto& t : source.tensors) {
    auto it = entries.find(t.name);
    if (it == entries.end()) fail(where, "its model has no tensor {} (the source {} has)", t.name, source.path.string());
    if (it->second->shape != t.shape)
      fail(where, "tensor {} is {} here, {} in the source {}", t.name, shape_text(it->second->shape),
           shape_text(t.shape), source.path.string());
  }
  std::set<std::string> selected, fitted;
  for (const auto* t : matrices) selected.insert(t->name);
  for (const auto& e : init.entries())
    if (e.fitted) fitted.insert(e.name);
  if (selected != fitted)
    fail(where, "it fits {} matrices, the settings select {} (start from a file compressed with the same selection)",
         fitted.size(), selected.size());
}

// The stored basis (and offset) of fitted matrix t in the init file; fixed
// bases follow from (kind, K, d, seed) as the reader makes them.
std::pair<std::vector<float>, std::vector<float>> init_basis(const ctfile::CtReader& init, const TensorInfo& t) {
  const Checkpoint& f = init.file();
  const int64_t d = t.cols();
  switch (init.basis()) {
    case ct::BasisKind::Svd: return {f.read_f32(*f.find(ctfile::basis_tensor_name(t.name))), {}};
    case ct::BasisKind::Universal:
      return {f.read_f32(*f.find(ctfile::universal_name(d, "basis"))),
              f.read_f32(*f.find(ctfile::universal_name(d, "offset")))};
    default: return {to_float(ct::make_fixed_basis(init.basis(), init.K(), d, init.seed()).B), {}};
  }
}

// The model's weights a run starts from: the source's, with the init file's
// unfitted tensors in their place (the fitted ones are rebuilt from amplitudes).
TrainWeights<float> start_weights(const Checkpoint& source, const ctfile::CtReader* init) {
  TrainWeights<float> w = train_weights_from<float>(load_llama_weights(source));
  if (!init) return w;
  std::set<std::pair<int, Role>> in_model;
  for (const auto& t : model_tensors(w.config, w.tied)) in_model.insert({t.layer, t.role});
  for (const auto& e : init->entries())
    if (!e.fitted && e.alias_of.empty() && in_model.count({e.layer, e.role})) w.tensor(e.layer, e.role) = init->tensor_f32(e);
  return w;
}

// Every fitted matrix as W = A G: amplitudes from the least-squares fit (or
// the init file), bases shared per row length except svd's (one per matrix).
ParameterSet<float> amplitude_set(const Checkpoint& source, const StartSettings& s,
                                  const std::vector<const TensorInfo*>& matrices, const ctfile::CtReader* init) {
  ParameterSet<float> ps(start_weights(source, init));
  std::optional<ct::BasisProvider> bases;
  if (!init) bases.emplace(source, matrices, s.fit.seed);
  const ct::BasisKind kind = s.fit.basis;
  const bool per_matrix = kind == ct::BasisKind::Svd;
  const bool basis_trains = s.train_basis && (per_matrix || kind == ct::BasisKind::Universal);
  std::map<int64_t, int> shared;  // row length -> basis id
  for (const TensorInfo* t : matrices) {
    std::pair<std::vector<float>, std::vector<float>> basis;  // G, offset
    std::vector<float> A;
    if (init) {
      basis = init_basis(*init, *t);
      A = init->file().read_f32(*init->file().find(ctfile::amplitudes_name(t->name)));
    } else {
      const linalg::MatrixView W = ct::stored_matrix(source, *t);
      const ct::FactoredBasis& b = bases->get(kind, s.fit.K, *t, W);
      basis = {to_float(b.B), to_float(b.offset)};
      A = ct::fit_rows(W, b).A;
      source.release(*t);
    }
    auto it = per_matrix ? shared.end() : shared.find(t->cols());
    int id = it == shared.end() ? -1 : it->second;
    if (id < 0) {
      const std::string name = per_matrix ? t->name : fmt::format("ct.{}.d{}", ct::basis_name(kind), t->cols());
      id = ps.add_basis(name, s.fit.K, t->cols(), std::move(basis.first), std::move(basis.second), basis_trains);
      if (!per_matrix) shared[t->cols()] = id;
    }
    ps.add_amplitudes(t->layer, t->role, id, std::move(A));
  }
  return ps;
}

uint64_t lora_seed(uint64_t seed, size_t matrix) { return seed + 0x9E3779B97F4A7C15ull * (matrix + 1); }

}  // namespace

ParameterSet<float> start_parameters(const Checkpoint& source, const StartSettings& s) {
  ctfile::require_dense(source, "training", "start from the source model (a .ct.safetensors is an init file)");
  const Kind kind = s.trainable.kind;
  if (s.train_basis && kind != Kind::Amplitudes && kind != Kind::AmplitudesNorms)
    throw Error(fmt::format("training the basis applies to amplitudes and amplitudes+norms, not {}", s.trainable.name()));
  const ct::Selection sel = ct::select_tensors(source, s.fit.selection, s.fit.K);
  ct::require_fittable(sel, {s.fit.K}, source.path.string());
  const std::vector<const TensorInfo*> matrices = ct::tensors_to_fit(source, sel);
  std::optional<ctfile::CtReader> init;
  if (!s.init.empty()) {
    init.emplace(Checkpoint::open(s.init));
    check_init(*init, source, s, matrices);
  }
  ParameterSet<float> amplitudes = amplitude_set(source, s, matrices, init ? &*init : nullptr);
  const ModelConfig& c = amplitudes.config();
  switch (kind) {
    case Kind::AmplitudesNorms:
      for (int l = 0; l < static_cast<int>(c.n_layers); ++l) {
        amplitudes.add_dense(l, Role::InputLayernorm);
        amplitudes.add_dense(l, Role::PostAttentionLayernorm);
      }
      amplitudes.add_dense(-1, Role::Norm);
      [[fallthrough]];
    case Kind::Amplitudes: return amplitudes;
    case Kind::Lora:
    case Kind::Full: break;
  }
  // LoRA and full training start from the compressed model's dense matrices.
  ParameterSet<float> ps(amplitudes.dense_weights());
  if (kind == Kind::Lora) {
    const double alpha = s.lora_alpha > 0 ? s.lora_alpha : static_cast<double>(s.trainable.lora_rank);
    for (size_t i = 0; i < matrices.size(); ++i)
      ps.add_lora(matrices[i]->layer, matrices[i]->role, s.trainable.lora_rank, alpha, lora_seed(s.lora_seed, i));
  } else {
    for (const auto& t : model_tensors(c, ps.step_dense_weights().tied)) ps.add_dense(t.layer, t.role);
  }
  return ps;
}

uint64_t stored_params(const ParameterSet<float>& ps, const Checkpoint& source, const StartSettings& s) {
  if (s.trainable.kind == Kind::Full) return source.total_params();
  const ct::Selection sel = ct::select_tensors(source, s.fit.selection, s.fit.K);
  std::vector<ct::FittedShape> shapes;
  for (const auto* t : ct::tensors_to_fit(source, sel)) shapes.push_back({t->rows(), t->cols()});
  const uint64_t compressed = ct::ct_storage(s.fit.basis, s.fit.K, shapes, source.total_params()).params();
  return compressed + (s.trainable.kind == Kind::Lora ? ps.trainable_count() : 0);
}

}  // namespace ctscope::train
