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
  for (const auto* t : sel_.matrices) {
    // A selected alias (the tied lm_head of paper68) means its data, the embedding, is fitted.
    const TensorInfo* data = t->alias_of.empty() ? t : ck.find(t->alias_of);
    if (data) fitted_[data->name] = data;
  }
}

std::vector<float> VariantBuilder::fitted_weights(const TensorInfo& t, const Variant& v, VariantWeights& out) {
  const int64_t n = t.rows(), d = t.cols();
  std::vector<float> W = ck_.read_f32(t);
  double ss = 0, sum = 0;
  for (float x : W) {
    ss += double(x) * x;
    sum += x;
  }
  out.sst += ss - sum * sum / static_cast<double>(W.size());
  std::vector<float> Wh(W.size());
  if (v.kind == Variant::Kind::Int8RowAbsmax) {
    for (int64_t r = 0; r < n; ++r) {
      const float* w = W.data() + r * d;
      float amax = 0;
      for (int64_t j = 0; j < d; ++j) amax = std::max(amax, std::abs(w[j]));
      const float scale = amax / 127.0f;
      for (int64_t j = 0; j < d; ++j)
        Wh[static_cast<size_t>(r * d + j)] = scale > 0 ? std::nearbyint(w[j] / scale) * scale : 0.0f;
    }
    out.stored_params += static_cast<uint64_t>(n * d + n);
    out.stored_bytes += static_cast<uint64_t>(n * d + 4 * n);
  } else {
    const MatrixView view{DType::F32, W.data(), n, d};
    FactoredBasis b;
    if (v.basis == BasisKind::Svd) {
      b = svd_basis(view, v.K);
      out.stored_params += static_cast<uint64_t>(v.K * d);
    } else if (v.basis == BasisKind::Universal) {
      b = universal_.at(d)->basis(v.K);  // basis storage is counted once per d in build()
    } else {
      b = make_fixed_basis(v.basis, v.K, d, settings_.seed);
    }
    std::vector<float> A(static_cast<size_t>(n * v.K));
    fit_amplitudes(view, b, A.data());
    reconstruct(A.data(), n, b, Wh.data());
    out.stored_params += A.size();
  }
  for (size_t i = 0; i < W.size(); ++i) out.sse += (double(W[i]) - Wh[i]) * (double(W[i]) - Wh[i]);
  return Wh;
}

VariantWeights VariantBuilder::build(const Variant& v) {
  VariantWeights out;
  if (v.kind == Variant::Kind::Ct && v.basis == BasisKind::Universal && universal_.empty()) {
    for (const auto& [name, t] : fitted_) {
      auto& a = universal_[t->cols()];
      if (!a) a = std::make_unique<UniversalAccumulator>(t->cols());
      a->add({t->dtype, ck_.bytes(*t).data(), t->rows(), t->cols()});
    }
  }
  if (v.kind == Variant::Kind::Ct && v.basis == BasisKind::Universal)
    for (const auto& [d, a] : universal_) out.stored_params += static_cast<uint64_t>((v.K + 1) * d);
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
