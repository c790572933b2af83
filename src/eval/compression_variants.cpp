#include "eval/compression_variants.hpp"

#include <set>

#include "ct/accounting.hpp"
#include "ct/amplitudes.hpp"
#include "ct/stored_matrix.hpp"
#include "eval/int8_row_absmax.hpp"
#include "util/error.hpp"

namespace ctscope {

std::string Variant::label() const {
  switch (kind) {
    case Kind::Original: return "original";
    case Kind::Int8RowAbsmax: return "int8 row-absmax";
    case Kind::Ct: return fmt::format("{} K={}", ct::basis_name(basis), K);
  }
  return "?";
}

std::string Variant::kind_name() const {
  switch (kind) {
    case Kind::Original: return "original";
    case Kind::Int8RowAbsmax: return "int8";
    case Kind::Ct: return "ct";
  }
  return "?";
}

VariantBuilder::VariantBuilder(const Checkpoint& ck, const ct::TensorSelection& selection, uint64_t seed)
    : ck_(ck), sel_(ct::select_tensors(ck, selection, /*min_row_length=*/1)), fitted_list_(ct::tensors_to_fit(ck, sel_)) {
  // A universal basis pools every matrix of its d; all of them are fitted at
  // the same K (exclusion goes by d), so one provider serves every K.
  bases_ = std::make_unique<ct::BasisProvider>(ck, fitted_list_, seed);
}

std::vector<const TensorInfo*> VariantBuilder::rewritten_by(const Variant& v) const {
  if (v.kind == Variant::Kind::Original) return {};
  std::vector<const TensorInfo*> out;
  for (const auto* t : fitted_list_)
    if (v.kind != Variant::Kind::Ct || t->cols() >= v.K) out.push_back(t);
  return out;
}

KCoverage VariantBuilder::coverage(int K) const {
  KCoverage c;
  c.K = K;
  for (const auto* t : fitted_list_) {
    if (t->cols() >= K) {
      ++c.matrices;
      c.rows += static_cast<uint64_t>(t->rows());
      c.params += t->numel();
    } else {
      c.skipped.emplace_back(t->name, fmt::format("row length d={} < K={}", t->cols(), K));
    }
  }
  return c;
}

std::vector<float> VariantBuilder::fitted_weights(const TensorInfo& t, const Variant& v, VariantWeights& out) {
  ++out.matrices;
  out.rows += static_cast<uint64_t>(t.rows());
  out.fitted_params += t.numel();
  if (v.kind == Variant::Kind::Ct) {
    const linalg::MatrixView raw = ct::stored_matrix(ck_, t);
    std::vector<float> Wh;
    const ct::RowFit f = ct::fit_rows(raw, bases_->get(v.basis, v.K, t, raw), &Wh);
    out.sse += f.sse;
    out.sst += f.sst;
    return Wh;
  }
  QuantizedRows q = int8_row_absmax(ck_.read_f32(t), t.rows(), t.cols(), &out.sse);
  out.sst += q.sst;
  out.stored_params += q.stored_params;
  out.stored_bytes += q.stored_bytes;
  return std::move(q.W_hat);
}

VariantWeights VariantBuilder::build(const Variant& v) {
  VariantWeights out;
  std::set<std::string> rewritten;
  for (const auto* t : rewritten_by(v)) rewritten.insert(t->name);
  uint64_t unrewritten_bytes = 0;
  for (const auto& t : ck_.tensors)
    if (t.alias_of.empty() && !rewritten.count(t.name)) unrewritten_bytes += t.nbytes;
  if (v.kind == Variant::Kind::Original) {
    out.stored_params = ck_.total_params();
    out.stored_bytes = ck_.total_bytes();
  } else if (v.kind == Variant::Kind::Ct) {
    std::vector<ct::FittedShape> shapes;
    for (const auto* t : rewritten_by(v)) shapes.push_back({t->rows(), t->cols()});
    const ct::CtStorage st = ct::ct_storage(v.basis, v.K, shapes, ck_.total_params());
    out.stored_params = st.params();
    out.stored_bytes = st.bytes(unrewritten_bytes);
  } else {  // the quantized rows are added as they are made
    out.stored_params = ck_.total_params();
    for (const auto* t : rewritten_by(v)) out.stored_params -= t->numel();
    out.stored_bytes = unrewritten_bytes;
  }
  out.weights = load_llama_weights(
      ck_.config,
      [&](int layer, Role role) -> std::vector<float> {
        const TensorInfo* t = ck_.find(layer, role);
        if (role == Role::LmHead && (!t || !t->alias_of.empty())) return {};  // tied to the embedding
        if (!t) return {};
        if (!rewritten.count(t->name)) return ck_.read_f32(*t);
        return fitted_weights(*t, v, out);
      },
      ck_.path.string());
  return out;
}

}  // namespace ctscope
