#include "ct/compression_variants.hpp"

#include <algorithm>
#include <cmath>

#include "util/error.hpp"

namespace ctscope::ct {

std::string Variant::label() const {
  switch (kind) {
    case Kind::Original: return "original";
    case Kind::Int8RowAbsmax: return "int8 row-absmax";
    case Kind::Ct: return fmt::format("{} K={}", basis_name(basis), K);
  }
  return "?";
}

VariantBuilder::VariantBuilder(const Checkpoint& ck, const AnalysisSettings& selection)
    : ck_(ck), settings_(selection), sel_(select_tensors(ck, selection)) {
  const std::vector<const TensorInfo*> data = fitted_data(ck, sel_);
  for (const auto* t : data) fitted_[t->name] = t;
  bases_ = std::make_unique<BasisProvider>(ck, data, selection.seed);
}

std::vector<float> VariantBuilder::fitted_weights(const TensorInfo& t, const Variant& v, VariantWeights& out) {
  const int64_t n = t.rows(), d = t.cols();
  const MatrixView raw{t.dtype, ck_.bytes(t).data(), n, d};
  std::vector<float> Wh;
  if (v.kind == Variant::Kind::Ct) {
    const FactoredBasis& b = bases_->get(v.basis, v.K, t, raw);
    const RowFit f = fit_rows(raw, b, &Wh);
    out.sse += f.sse;
    out.sst += f.sst;
    out.stored_params += f.A.size() + (v.basis == BasisKind::Svd ? static_cast<uint64_t>(v.K * d) : 0);
    return Wh;  // universal basis storage is counted once per d in build()
  }
  // 8-bit per-row absmax: q = round(w / s), s = max|w| / 127, stored with one F32 scale per row.
  const std::vector<float> W = ck_.read_f32(t);
  Wh.resize(W.size());
  double ss = 0, sum = 0;
  for (int64_t r = 0; r < n; ++r) {
    const float* w = W.data() + r * d;
    float amax = 0;
    for (int64_t j = 0; j < d; ++j) amax = std::max(amax, std::abs(w[j]));
    const float scale = amax / 127.0f;
    for (int64_t j = 0; j < d; ++j) {
      const float q = scale > 0 ? std::nearbyint(w[j] / scale) * scale : 0.0f;
      Wh[static_cast<size_t>(r * d + j)] = q;
      ss += double(w[j]) * w[j];
      sum += w[j];
      out.sse += (double(w[j]) - q) * (double(w[j]) - q);
    }
  }
  out.sst += ss - sum * sum / static_cast<double>(W.size());
  out.stored_params += static_cast<uint64_t>(n * d + n);
  out.stored_bytes += static_cast<uint64_t>(n * d + 4 * n);
  return Wh;
}

VariantWeights VariantBuilder::build(const Variant& v) {
  VariantWeights out;
  if (v.kind == Variant::Kind::Ct && v.basis == BasisKind::Universal)
    for (int64_t d : bases_->row_lengths()) out.stored_params += static_cast<uint64_t>((v.K + 1) * d);
  for (const auto& t : ck_.tensors)
    if (t.alias_of.empty() && (v.kind == Variant::Kind::Original || !fitted_.count(t.name))) {
      out.stored_params += t.numel();
      out.stored_bytes += t.nbytes;
    }
  out.weights = load_llama_weights(
      ck_.config,
      [&](int layer, Role role) -> std::vector<float> {
        const TensorInfo* t = ck_.find(layer, role);
        if (role == Role::LmHead && (!t || !t->alias_of.empty())) return {};  // tied to the embedding
        if (!t) return {};
        if (v.kind == Variant::Kind::Original || !fitted_.count(t->name)) return ck_.read_f32(*t);
        return fitted_weights(*t, v, out);
      },
      ck_.path.string());
  if (v.kind == Variant::Kind::Ct) {
    // Amplitudes and bases are stored as F32 (as `compress` writes them).
    const uint64_t unfitted_params = [&] {
      uint64_t p = 0;
      for (const auto& t : ck_.tensors)
        if (t.alias_of.empty() && !fitted_.count(t.name)) p += t.numel();
      return p;
    }();
    out.stored_bytes += 4 * (out.stored_params - unfitted_params);
  }
  return out;
}

}  // namespace ctscope::ct
