#include "train/trained_model_file.hpp"

#include <map>
#include <set>

#include "util/error.hpp"

namespace ctscope::train {

namespace {

// The pieces of a trained model: amplitude links as their parameters, every
// other tensor of the model from the step's materialized dense weights (which
// hold every tensor but the factored amplitude links) when they differ from
// the source (or a link trains them), else the source's bytes.
class TrainedPieces : public ctfile::CtPieces {
 public:
  TrainedPieces(const ParameterSet<float>& ps, const Checkpoint& source, ct::BasisKind basis)
      : ps_(ps), source_(source), basis_(basis) {
    const TrainWeights<float>& w = ps.step_dense_weights();
    std::set<std::pair<int, Role>> in_model;
    for (const auto& t : model_tensors(w.config, w.tied)) in_model.insert({t.layer, t.role});
    for (const auto& t : source.tensors) {
      if (!t.alias_of.empty() || !in_model.count({t.layer, t.role})) continue;
      const auto link = ps.link_kind(t.layer, t.role);
      if (link == LinkKind::Amplitudes) {
        amplitudes_.insert(t.name);
        by_row_length_.emplace(t.cols(), &t);
      } else if (link || source.read_f32(t) != w.tensor(t.layer, t.role)) {
        changed_.insert(t.name);
      }
    }
  }

  bool fitted(const TensorInfo& t) const override { return amplitudes_.count(t.name) > 0; }
  DType unfitted_dtype(const TensorInfo& t) const override { return changed_.count(t.name) ? DType::F32 : t.dtype; }

  std::vector<int64_t> universal_row_lengths() const override {
    std::vector<int64_t> out;
    if (basis_ == ct::BasisKind::Universal)
      for (const auto& [d, t] : by_row_length_) out.push_back(d);
    return out;
  }
  Universal universal(int64_t d) override {
    const TensorInfo* t = by_row_length_.at(d);
    const auto link = ps_.amplitude_link(t->layer, t->role);
    return {link.G->value, link.offset->value};
  }

  Fitted fit(const TensorInfo& t) override {
    const auto link = ps_.amplitude_link(t.layer, t.role);
    return {link.A->value, basis_ == ct::BasisKind::Svd ? link.G->value : std::vector<float>{}};
  }

  std::span<const std::byte> unfitted(const TensorInfo& t) override {
    if (!changed_.count(t.name)) return source_.bytes(t);
    return std::as_bytes(std::span(ps_.step_dense_weights().tensor(t.layer, t.role)));
  }

 private:
  const ParameterSet<float>& ps_;
  const Checkpoint& source_;
  ct::BasisKind basis_;
  std::set<std::string> amplitudes_, changed_;
  std::map<int64_t, const TensorInfo*> by_row_length_;  // one amplitude-linked tensor per row length
};

}  // namespace

ctfile::CtFileWritten write_trained_model(ParameterSet<float>& ps, const Checkpoint& source, const StartSettings& s,
                                          const std::filesystem::path& out,
                                          std::map<std::string, std::string> extra_metadata) {
  ps.materialize();
  TrainedPieces pieces(ps, source, s.fit.basis);
  extra_metadata["trainable"] = s.trainable.name();
  return ctfile::write_ct_file(source, s.fit, pieces, out, extra_metadata);
}

}  // namespace ctscope::train
