#include "train/parameter_set.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "train/layers.hpp"
#include "util/error.hpp"
#include "util/normal_rng.hpp"

namespace ctscope::train {

template <class S>
ParameterSet<S>::ParameterSet(TrainWeights<S> base) : w_(std::move(base)) {}

template <class S>
int ParameterSet<S>::add_param(Parameter<S> p) {
  if (p.trainable) p.grad.assign(p.value.size(), S(0));
  params_.push_back(std::move(p));
  return static_cast<int>(params_.size()) - 1;
}

template <class S>
void ParameterSet<S>::require_unlinked(int layer, Role role) const {
  if (w_.tied && layer < 0 && role == Role::LmHead)
    throw Error("the classifier is tied to the embedding: train embed_tokens instead");
  for (const auto& l : links_)
    if (l.tensor.layer == layer && l.tensor.role == role)
      throw Error(fmt::format("{} is already trainable", hf_tensor_name(layer, role)));
}

template <class S>
void ParameterSet<S>::add_dense(int layer, Role role) {
  require_unlinked(layer, role);
  const TensorShape s = tensor_shape(w_.config, role);
  const bool vector = s.cols == 1;
  const int p = add_param({hf_tensor_name(layer, role), s.rows, s.cols, w_.tensor(layer, role), {}, true, !vector});
  links_.push_back({LinkKind::Dense, {layer, role}, p});
}

template <class S>
int ParameterSet<S>::add_basis(const std::string& name, int64_t K, int64_t d, std::vector<S> G, std::vector<S> offset,
                               bool trainable) {
  if (K <= 0 || d <= 0 || static_cast<int64_t>(G.size()) != K * d || (!offset.empty() && std::ssize(offset) != d))
    throw Error(fmt::format("basis {}: {} values for K = {}, d = {} (offset {})", name, G.size(), K, d, offset.size()));
  // No subnormals: a Gaussian basis's far tails (1e-300 .. 1e-38 in double)
  // are subnormal as floats and made every GEMM on G ~40x slower (measured at
  // TinyLlama shapes); flushed, W = A G moves by less than 1e-38 |A|.
  for (auto& v : G)
    if (std::abs(v) < std::numeric_limits<S>::min()) v = S(0);
  Basis b;
  b.G = add_param({name + ".basis", K, d, std::move(G), {}, trainable, true});
  if (!offset.empty()) b.offset = add_param({name + ".offset", 1, d, std::move(offset), {}, trainable, false});
  bases_.push_back(b);
  return static_cast<int>(bases_.size()) - 1;
}

template <class S>
void ParameterSet<S>::add_amplitudes(int layer, Role role, int basis, std::vector<S> A0) {
  require_unlinked(layer, role);
  if (basis < 0 || basis >= std::ssize(bases_)) throw Error(fmt::format("no basis {}", basis));
  const TensorShape s = tensor_shape(w_.config, role);
  const auto& G = params_[static_cast<size_t>(bases_[static_cast<size_t>(basis)].G)];
  if (G.cols != s.cols || std::ssize(A0) != s.rows * G.rows)
    throw Error(fmt::format("{}: amplitudes of {} values in a basis {} x {} for a {} x {} matrix",
                            hf_tensor_name(layer, role), A0.size(), G.rows, G.cols, s.rows, s.cols));
  const int a = add_param({hf_tensor_name(layer, role) + ".ct_amplitudes", s.rows, G.rows, std::move(A0), {}, true, true});
  links_.push_back({LinkKind::Amplitudes, {layer, role}, a, basis});
  if (factored(links_.back())) std::vector<S>().swap(w_.tensor(layer, role));  // never held dense again
}

template <class S>
void ParameterSet<S>::add_lora(int layer, Role role, int64_t rank, double alpha, uint64_t seed) {
  require_unlinked(layer, role);
  const TensorShape s = tensor_shape(w_.config, role);
  if (rank <= 0 || s.cols == 1) throw Error(fmt::format("LoRA rank {} for {}", rank, hf_tensor_name(layer, role)));
  const std::string name = hf_tensor_name(layer, role);
  const int frozen = add_param({name, s.rows, s.cols, w_.tensor(layer, role), {}, false, false});
  std::vector<S> A(static_cast<size_t>(rank * s.cols));
  NormalRng rng(seed);
  const double sd = 1.0 / std::sqrt(static_cast<double>(s.cols));
  for (auto& x : A) x = static_cast<S>(sd * rng());
  const int b = add_param({name + ".lora_B", s.rows, rank, std::vector<S>(static_cast<size_t>(s.rows * rank)), {}, true, true});
  const int a = add_param({name + ".lora_A", rank, s.cols, std::move(A), {}, true, true});
  links_.push_back({LinkKind::Lora, {layer, role}, b, a, frozen, alpha / static_cast<double>(rank)});
}

template <class S>
std::optional<LinkKind> ParameterSet<S>::link_kind(int layer, Role role) const {
  for (const auto& l : links_)
    if (l.tensor.layer == layer && l.tensor.role == role) return l.kind;
  return std::nullopt;
}

template <class S>
typename ParameterSet<S>::AmplitudeLink ParameterSet<S>::amplitude_link(int layer, Role role) const {
  for (const auto& l : links_)
    if (l.tensor.layer == layer && l.tensor.role == role && l.kind == LinkKind::Amplitudes) {
      const Basis& b = bases_[static_cast<size_t>(l.b)];
      return {&params_[static_cast<size_t>(l.a)], &params_[static_cast<size_t>(b.G)],
              b.offset >= 0 ? &params_[static_cast<size_t>(b.offset)] : nullptr};
    }
  throw Error(fmt::format("{} is not trained as amplitudes", hf_tensor_name(layer, role)));
}

template <class S>
uint64_t ParameterSet<S>::trainable_count() const {
  uint64_t n = 0;
  for (const auto& p : params_) n += p.trainable ? p.value.size() : 0;
  return n;
}

template <class S>
bool ParameterSet<S>::link_trains(const Link& l) const {
  auto trains = [&](int p) { return p >= 0 && params_[static_cast<size_t>(p)].trainable; };
  if (l.kind != LinkKind::Amplitudes) return trains(l.a) || trains(l.b);
  const Basis& b = bases_[static_cast<size_t>(l.b)];
  return trains(l.a) || trains(b.G) || trains(b.offset);
}

template <class S>
bool ParameterSet<S>::factored(const Link& l) const {
  if (l.kind != LinkKind::Amplitudes) return false;
  const auto& G = params_[static_cast<size_t>(bases_[static_cast<size_t>(l.b)].G)];
  return G.rows < G.cols;
}

template <class S>
void ParameterSet<S>::materialize() {
  for (const auto& l : links_)
    if (!factored(l)) write_link(l, w_.tensor(l.tensor.layer, l.tensor.role));
}

template <class S>
StepWeights<S> ParameterSet<S>::step_weights() const {
  StepWeights<S> sw(w_);
  for (const auto& l : links_) {
    if (!factored(l)) continue;
    const Basis& b = bases_[static_cast<size_t>(l.b)];
    const auto& G = params_[static_cast<size_t>(b.G)];
    const S* offset = b.offset >= 0 ? params_[static_cast<size_t>(b.offset)].value.data() : nullptr;
    sw.add_factored(l.tensor, {nullptr, params_[static_cast<size_t>(l.a)].value.data(), G.value.data(), offset, G.rows});
  }
  return sw;
}

template <class S>
TrainWeights<S> ParameterSet<S>::dense_weights() const {
  TrainWeights<S> w = w_;
  for (const auto& l : links_) write_link(l, w.tensor(l.tensor.layer, l.tensor.role));
  return w;
}

template <class S>
void ParameterSet<S>::write_link(const Link& l, std::vector<S>& W) const {
  const auto& P = params_[static_cast<size_t>(l.a)];
  W.resize(static_cast<size_t>(tensor_shape(w_.config, l.tensor.role).size()));
  switch (l.kind) {
      case LinkKind::Dense: std::copy(P.value.begin(), P.value.end(), W.begin()); break;
      case LinkKind::Amplitudes: {
        const Basis& b = bases_[static_cast<size_t>(l.b)];
        const auto& G = params_[static_cast<size_t>(b.G)];
        const int64_t n = P.rows, K = G.rows, d = G.cols;
        if (b.offset >= 0) {
          const auto& o = params_[static_cast<size_t>(b.offset)].value;
          for (int64_t i = 0; i < n; ++i) std::copy(o.begin(), o.end(), W.begin() + i * d);
        }
        gemm<S>(false, false, n, d, K, S(1), P.value.data(), K, G.value.data(), d, b.offset >= 0 ? S(1) : S(0),
                W.data(), d);
        break;
      }
      case LinkKind::Lora: {
        const auto& A = params_[static_cast<size_t>(l.b)];
        const auto& W0 = params_[static_cast<size_t>(l.frozen)].value;
        std::copy(W0.begin(), W0.end(), W.begin());
        gemm<S>(false, false, P.rows, A.cols, P.cols, static_cast<S>(l.scale), P.value.data(), P.cols,
                A.value.data(), A.cols, S(1), W.data(), A.cols);
        break;
      }
  }
}

template <class S>
const typename ParameterSet<S>::Link* ParameterSet<S>::find_link(int layer, Role role) const {
  if (w_.tied && layer < 0 && role == Role::LmHead) role = Role::EmbedTokens;
  for (const auto& l : links_)
    if (l.tensor.layer == layer && l.tensor.role == role) return &l;
  return nullptr;
}

template <class S>
TrainWeights<S> ParameterSet<S>::gradient_buffers() const {
  std::vector<TensorRole> wanted;
  for (const auto& l : links_)
    if (l.kind == LinkKind::Dense && link_trains(l)) wanted.push_back(l.tensor);
  return zero_gradients(w_, [&](int layer, Role role) {
    return std::any_of(wanted.begin(), wanted.end(),
                       [&](const TensorRole& t) { return t.layer == layer && t.role == role; });
  });
}

template <class S>
void ParameterSet<S>::zero_grad() {
  for (auto& p : params_) std::fill(p.grad.begin(), p.grad.end(), S(0));
}

template <class S>
void ParameterSet<S>::collect(const TrainWeights<S>& g) {
  for (const auto& l : links_) {
    if (!link_trains(l)) continue;
    const std::vector<S>& dW = g.tensor(l.tensor.layer, l.tensor.role);
    if (!dW.empty()) collect_link(l, dW.data());  // empty: streamed by add_weight_gradient
  }
}

template <class S>
void ParameterSet<S>::collect_link(const Link& l, const S* dW) {
  auto& P = params_[static_cast<size_t>(l.a)];
  switch (l.kind) {
    case LinkKind::Dense:
      for (size_t i = 0; i < P.grad.size(); ++i) P.grad[i] += dW[i];
      break;
    case LinkKind::Amplitudes: {
      const Basis& b = bases_[static_cast<size_t>(l.b)];
      auto& G = params_[static_cast<size_t>(b.G)];
      const int64_t n = P.rows, K = G.rows, d = G.cols;
      gemm<S>(false, true, n, K, d, S(1), dW, d, G.value.data(), d, S(1), P.grad.data(), K);  // dA += dW G^T
      if (G.trainable)
        gemm<S>(true, false, K, d, n, S(1), P.value.data(), K, dW, d, S(1), G.grad.data(), d);  // dG += A^T dW
      if (b.offset >= 0 && params_[static_cast<size_t>(b.offset)].trainable) {
        auto& o = params_[static_cast<size_t>(b.offset)].grad;
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < d; ++j) o[static_cast<size_t>(j)] += dW[i * d + j];
      }
      break;
    }
    case LinkKind::Lora: {  // P = B [n, R], A [R, d]
      auto& A = params_[static_cast<size_t>(l.b)];
      const auto s = static_cast<S>(l.scale);
      const int64_t n = P.rows, R = P.cols, d = A.cols;
      gemm<S>(false, true, n, R, d, s, dW, d, A.value.data(), d, S(1), P.grad.data(), R);  // dB += s dW A^T
      gemm<S>(true, false, R, d, n, s, P.value.data(), R, dW, d, S(1), A.grad.data(), d);  // dA += s B^T dW
      break;
    }
  }
}

template <class S>
bool ParameterSet<S>::takes(int layer, Role role) const {
  const Link* l = find_link(layer, role);
  return l && l->kind != LinkKind::Dense && link_trains(*l);
}

template <class S>
typename ParameterSet<S>::Factors ParameterSet<S>::factors_of(const Link& l) {
  if (l.kind == LinkKind::Dense)
    throw Error(fmt::format("{} is not trained through factors", hf_tensor_name(l.tensor.layer, l.tensor.role)));
  const int R = l.kind == LinkKind::Amplitudes ? bases_[static_cast<size_t>(l.b)].G : l.b;
  return {params_[static_cast<size_t>(l.a)], params_[static_cast<size_t>(R)], static_cast<S>(l.scale)};
}

template <class S>
std::vector<S>* ParameterSet<S>::offset_gradient(const Link& l) {
  if (l.kind != LinkKind::Amplitudes) return nullptr;
  const int o = bases_[static_cast<size_t>(l.b)].offset;
  return o >= 0 && params_[static_cast<size_t>(o)].trainable ? &params_[static_cast<size_t>(o)].grad : nullptr;
}

template <class S>
void ParameterSet<S>::add_weight_gradient(int layer, Role role, const S* dout, const S* x, const S* xg, int64_t N,
                                          int64_t n_in, int64_t n_out) {
  const int64_t d = n_in, n = n_out;  // W [n, d]
  const Link* l = find_link(layer, role);
  if (!l) throw Error(fmt::format("{} is not trainable", hf_tensor_name(layer, role)));
  const auto [L, R, s] = factors_of(*l);
  const int64_t K = L.cols;
  if (K >= d) {
    // No smaller factored form (e.g. an orthonormal basis at K = d): dW in a
    // scratch of [n, d], no larger than L itself, then collect's arithmetic.
    if (std::ssize(scratch_) < n * d) scratch_.resize(static_cast<size_t>(n * d));
    gemm<S>(true, false, n, d, N, S(1), dout, n, x, d, S(0), scratch_.data(), d);
    collect_link(*l, scratch_.data());
    return;
  }
  if (std::ssize(scratch_) < N * K) scratch_.resize(static_cast<size_t>(N * K));
  S* t = scratch_.data();
  if (L.trainable) {
    // x R^T [N, K]: the forward's x G^T when it applied W = A G factored (R = G, s = 1).
    const S* xr = xg;
    if (!xr) {
      gemm<S>(false, true, N, K, d, S(1), x, d, R.value.data(), d, S(0), t, K);
      xr = t;
    }
    gemm<S>(true, false, n, K, N, s, dout, n, xr, K, S(1), L.grad.data(), K);  // dL += s dout^T (x R^T)
  }
  if (R.trainable) {
    gemm<S>(false, false, N, K, n, S(1), dout, n, L.value.data(), K, S(0), t, K);    // dout L    [N, K]
    gemm<S>(true, false, K, d, N, s, t, K, x, d, S(1), R.grad.data(), d);            // dR += s (dout L)^T x
  }
  if (std::vector<S>* o = offset_gradient(*l)) {  // do += 1^T dW = x^T (dout 1)
    for (int64_t i = 0; i < N; ++i) {
      double r = 0;
      for (int64_t j = 0; j < n; ++j) r += static_cast<double>(dout[i * n + j]);
      for (int64_t j = 0; j < d; ++j) (*o)[static_cast<size_t>(j)] += static_cast<S>(r * static_cast<double>(x[i * d + j]));
    }
  }
}

// The embedding E [V, d] looked up by tokens: dE = S^T dout with S the one-hot
// rows, so with E = s L R:  dL[tokens[t]] += s dout[t] R^T,  dR += s (S L)^T dout
// (S L: the rows L[tokens[t]] gathered), do += 1^T dout.
template <class S>
void ParameterSet<S>::add_embedding_gradient(const S* dout, const int32_t* tokens, int64_t N, int64_t d) {
  const Link* l = find_link(-1, Role::EmbedTokens);
  if (!l) throw Error("the embedding is not trainable");
  const auto [L, R, s] = factors_of(*l);
  const int64_t K = L.cols, V = L.rows;
  auto row = [&](int64_t t) { return static_cast<int64_t>(tokens[t]); };
  if (K >= d) {  // as add_weight_gradient: dW in a scratch [V, d], then collect's arithmetic
    scratch_.assign(static_cast<size_t>(std::max<int64_t>(std::ssize(scratch_), V * d)), S(0));
    for (int64_t t = 0; t < N; ++t)
      for (int64_t j = 0; j < d; ++j) scratch_[static_cast<size_t>(row(t) * d + j)] += dout[t * d + j];
    collect_link(*l, scratch_.data());
    return;
  }
  if (std::ssize(scratch_) < N * K) scratch_.resize(static_cast<size_t>(N * K));
  S* t = scratch_.data();
  if (L.trainable) {
    gemm<S>(false, true, N, K, d, s, dout, d, R.value.data(), d, S(0), t, K);  // s dout R^T [N, K]
    for (int64_t i = 0; i < N; ++i)
      for (int64_t k = 0; k < K; ++k) L.grad[static_cast<size_t>(row(i) * K + k)] += t[i * K + k];
  }
  if (R.trainable) {
    for (int64_t i = 0; i < N; ++i) std::copy_n(L.value.data() + row(i) * K, K, t + i * K);
    gemm<S>(true, false, K, d, N, s, t, K, dout, d, S(1), R.grad.data(), d);  // dR += s (S L)^T dout
  }
  if (std::vector<S>* o = offset_gradient(*l))
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < d; ++j) (*o)[static_cast<size_t>(j)] += dout[i * d + j];
}

template <class S>
uint64_t ParameterSet<S>::parameter_bytes() const {
  uint64_t n = 0;
  for (const auto& p : params_) n += p.value.size() * sizeof(S);
  return n;
}

template <class S>
uint64_t ParameterSet<S>::gradient_bytes() const {
  uint64_t n = scratch_.size() * sizeof(S);
  for (const auto& p : params_) n += p.grad.size() * sizeof(S);
  return n;
}

template class ParameterSet<float>;
template class ParameterSet<double>;

}  // namespace ctscope::train
