#include "train/train_model.hpp"

#include <algorithm>
#include <initializer_list>

#include "train/layers.hpp"
#include "util/error.hpp"
#include "util/thread_pool.hpp"

namespace ctscope::train {

namespace {

struct Dims {
  int64_t L, d, kv, hidden, V, H, KVH, hd, N;
  Dims(const ModelConfig& c, int64_t B, int64_t T)
      : L(c.n_layers), d(c.dim), kv(c.n_kv_heads * c.head_dim()), hidden(c.hidden_dim), V(c.vocab_size),
        H(c.n_heads), KVH(c.n_kv_heads), hd(c.head_dim()), N(B * T) {}
};

template <class S>
S* data_or_null(std::vector<S>& v) {
  return v.empty() ? nullptr : v.data();
}

// out += in, split among the workers.
template <class S>
void add_residual(S* out, const S* in, int64_t n) {
  parallel_for(n, 4096, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) out[i] += in[i];
  });
}

// Slot of matrix (layer, role) in Activations::xg_at: 7 per block in Role's
// order, then the classifier.
int64_t xg_slot(int64_t n_layers, int layer, Role role) {
  return layer < 0 ? 7 * n_layers : 7 * layer + static_cast<int64_t>(role);
}

// The forward's out = x W^T, W dense or factored. A factored W's x G^T goes
// to a slot of a.xg for the backward, unless the matrix just before read the
// same x through the same basis (q, k, v and gate, up share a Gaussian or DCT
// basis): then it is that one's.
template <class S>
struct LinearForward {
  const StepWeights<S>& w;
  Activations<S>& a;
  int64_t N, used = 0;
  const S* last_x = nullptr;
  WeightMatrix<S> last{};
  int64_t last_at = -1;

  void operator()(int layer, Role role, S* out, const S* x, int64_t n_in, int64_t n_out) {
    const WeightMatrix<S> W = w.matrix(layer, role);
    if (W.W) return matmul_forward(out, x, W.W, N, n_in, n_out);
    if (x != last_x || W.G != last.G || W.K != last.K) {
      last_x = x, last = W, last_at = used;
      used += N * W.K;
      factored_input_forward(a.xg.data() + last_at, x, W.G, N, n_in, W.K);
    }
    a.xg_at[static_cast<size_t>(xg_slot(w.config().n_layers, layer, role))] = last_at;
    factored_matmul_forward(out, a.xg.data() + last_at, x, W.A, W.offset, N, n_in, n_out, W.K);
  }
};

// a.xg for every factored matrix of w, each [N, K] (grown by the first
// forward on these weights; the plan does not know the K's). The embedding's
// lookup needs none; a tied classifier applies its factors as a matrix.
template <class S>
void plan_factor_inputs(const StepWeights<S>& w, Activations<S>& a, int64_t N) {
  int64_t need = 0;
  for (const auto& [t, m] : w.factored)
    if (t.role != Role::EmbedTokens || w.dense.tied) need += N * m.K;
  if (std::ssize(a.xg) < need) a.xg.resize(static_cast<size_t>(need));
  a.xg_at.assign(static_cast<size_t>(7 * w.config().n_layers + 1), -1);
}

// One product's part in a backward: the matrix (layer, role) applied to the
// shared input, and the gradient of its output [N, n_out].
template <class S>
struct Use {
  Role role;
  const S* dout;
  int64_t n_out;
};

// The backward of the products that read one input x [N, n_in]: dx = sum of
// dout_i W_i, written (not added), with the factored matrices that share a
// basis G summing dout_i A_i first, so G is applied once; and each weight's
// gradient into its dense buffer or, when it has none, to the sink that
// takes it (or nowhere: nobody asked).
template <class S>
struct WeightGradients {
  const StepWeights<S>& w;
  const Activations<S>& a;
  TrainWeights<S>& dense;
  WeightGradientSink<S>* sink;
  S* dxg;  // [N, K] scratch: Activations::factor_tmp
  int64_t N;

  void backward(int layer, std::initializer_list<Use<S>> uses, S* dx, const S* x, int64_t n_in) const {
    bool dx_written = false;
    WeightMatrix<S> pending{};  // the basis whose sum of dout_i A_i is in dxg
    const auto apply_pending = [&] {
      if (!pending.G) return;
      factored_input_backward(dx, dxg, pending.G, N, n_in, pending.K, dx_written);
      dx_written = true;
      pending = {};
    };
    for (const auto& u : uses) {
      const WeightMatrix<S> W = w.matrix(layer, u.role);
      S* dW = data_or_null(dense.tensor(layer, u.role));
      if (W.W) {
        matmul_backward(dx, dW, u.dout, x, W.W, N, n_in, u.n_out, dx_written);
        dx_written = true;
      } else {
        if (pending.G && (W.G != pending.G || W.K != pending.K)) apply_pending();
        factored_output_backward(dxg, u.dout, W.A, N, u.n_out, W.K, pending.G != nullptr);
        pending.G = W.G, pending.K = W.K;
      }
      if (!dW && sink && sink->takes(layer, u.role)) {
        const int64_t at = W.W ? -1 : a.xg_at[static_cast<size_t>(xg_slot(w.config().n_layers, layer, u.role))];
        sink->add_weight_gradient(layer, u.role, u.dout, x, at < 0 ? nullptr : a.xg.data() + at, N, n_in, u.n_out);
      }
    }
    apply_pending();
    for (const auto& u : uses)
      if (const WeightMatrix<S> W = w.matrix(layer, u.role); W.offset)
        offset_backward(dx, u.dout, W.offset, N, n_in, u.n_out);
  }

  // The embedding's lookup: dembed[tokens[t]] += dout[t], into its dense
  // buffer or to the sink.
  void embedding_backward(const S* dout, const int32_t* tokens, int64_t d) const {
    S* dE = data_or_null(dense.embed);
    if (dE) train::embedding_backward(dE, dout, tokens, N, d);
    else if (sink && sink->takes(-1, Role::EmbedTokens)) sink->add_embedding_gradient(dout, tokens, N, d);
  }
};

}  // namespace

template <class S>
void StepWeights<S>::add_factored(TensorRole t, const WeightMatrix<S>& m) {
  if (m.K >= tensor_shape(dense.config, t.role).cols)
    throw Error(fmt::format("{}: factored with K = {}, not below its row length", hf_tensor_name(t.layer, t.role), m.K));
  factored.push_back({t, m});
}

template <class S>
WeightMatrix<S> StepWeights<S>::matrix(int layer, Role role) const {
  const Role r = dense.tied && layer < 0 && role == Role::LmHead ? Role::EmbedTokens : role;
  for (const auto& [t, m] : factored)
    if (t.layer == layer && t.role == r) return m;
  const std::vector<S>& W = dense.tensor(layer, r);
  if (W.empty()) throw Error(fmt::format("{} has no weights in this step", hf_tensor_name(layer, r)));
  return {W.data()};
}

template <class S>
uint64_t Activations<S>::bytes() const {
  uint64_t n = 0;
  for (const auto* buf : {&res_in, &res_mid, &xn1, &xn2, &rstd1, &rstd2, &q, &k, &v, &probs, &att, &gate, &up, &hact,
                          &res_final, &xnf, &rstdf, &logits, &dres, &dxn, &datt, &dq, &dk, &dv, &dgate, &dup, &dhact,
                          &attn_scratch, &dlogits, &factor_tmp, &xg})
    n += buf->size() * sizeof(S);
  return n + (loss.size() + lse.size() + teacher_lse.size() + kl.size()) * sizeof(double) + (inputs.size() + targets.size()) * sizeof(int32_t);
}

template <class S>
Activations<S> plan_activations(const ModelConfig& c, int64_t B, int64_t T) {
  if (B <= 0 || T <= 0) throw Error(fmt::format("training batch of {} x {} tokens", B, T));
  const Dims m(c, B, T);
  auto n = [](int64_t count) { return static_cast<size_t>(count); };
  Activations<S> a;
  a.B = B, a.T = T;
  a.inputs.resize(n(m.N)), a.targets.resize(n(m.N));
  for (auto* v : {&a.res_in, &a.res_mid, &a.xn1, &a.xn2, &a.q, &a.att}) v->resize(n(m.L * m.N * m.d));
  for (auto* v : {&a.rstd1, &a.rstd2}) v->resize(n(m.L * m.N));
  for (auto* v : {&a.k, &a.v}) v->resize(n(m.L * m.N * m.kv));
  a.probs.resize(n(m.L * B * m.H * T * T));
  for (auto* v : {&a.gate, &a.up, &a.hact}) v->resize(n(m.L * m.N * m.hidden));
  a.res_final.resize(n(m.N * m.d)), a.xnf.resize(n(m.N * m.d)), a.rstdf.resize(n(m.N));
  a.logits.resize(n(m.N * m.V));
  a.loss.resize(n(m.N)), a.lse.resize(n(m.N));
  a.teacher_lse.resize(n(m.N)), a.kl.resize(n(m.N));
  for (auto* v : {&a.dres, &a.dxn, &a.datt, &a.dq}) v->resize(n(m.N * m.d));
  for (auto* v : {&a.dk, &a.dv}) v->resize(n(m.N * m.kv));
  for (auto* v : {&a.dgate, &a.dup, &a.dhact}) v->resize(n(m.N * m.hidden));
  a.attn_scratch.resize(n(attention_scratch_size(T, m.H, m.KVH, m.hd)));
  a.dlogits.resize(n(m.N * m.V));
  a.factor_tmp.resize(n(m.N * std::max(m.d, m.hidden)));
  return a;
}

template <class S>
double train_forward(const StepWeights<S>& w, Activations<S>& a, std::span<const int32_t> inputs,
                     std::span<const int32_t> targets, const Distillation<S>& distill) {
  const auto& c = w.config();
  const Dims m(c, a.B, a.T);
  if (static_cast<int64_t>(inputs.size()) != m.N || static_cast<int64_t>(targets.size()) != m.N)
    throw Error(fmt::format("training batch of {} inputs and {} targets for a plan of {} x {}", inputs.size(),
                            targets.size(), a.B, a.T));
  if (!distill.teacher_logits.empty() && static_cast<int64_t>(distill.teacher_logits.size()) != m.N * m.V)
    throw Error(fmt::format("teacher logits: {} values for {} tokens of a vocabulary of {}",
                            distill.teacher_logits.size(), m.N, m.V));
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i] < 0 || inputs[i] >= m.V || targets[i] >= m.V)
      throw Error(fmt::format("token id {} is outside the vocabulary of {}",
                              inputs[i] < 0 || inputs[i] >= m.V ? inputs[i] : targets[i], m.V));
  std::copy(inputs.begin(), inputs.end(), a.inputs.begin());
  std::copy(targets.begin(), targets.end(), a.targets.begin());
  const int64_t N = m.N, d = m.d;
  S* tmp = a.factor_tmp.data();
  plan_factor_inputs(w, a, N);
  LinearForward<S> linear_fwd{w, a, N};
  const WeightMatrix<S> E = w.matrix(-1, Role::EmbedTokens);
  if (E.W) embedding_forward(a.res_in.data(), a.inputs.data(), E.W, N, d);
  else factored_embedding_forward(a.res_in.data(), tmp, a.inputs.data(), E.A, E.G, E.offset, N, d, E.K);
  for (int64_t l = 0; l < m.L; ++l) {
    const auto& L = w.dense.layers[static_cast<size_t>(l)];
    const int li = static_cast<int>(l);
    const auto linear = [&](Role role, S* out, const S* x, int64_t n_in, int64_t n_out) {
      linear_fwd(li, role, out, x, n_in, n_out);
    };
    S* res_in = a.res_in.data() + l * N * d;
    S* res_mid = a.res_mid.data() + l * N * d;
    S* xn1 = a.xn1.data() + l * N * d;
    S* xn2 = a.xn2.data() + l * N * d;
    S* q = a.q.data() + l * N * d;
    S* k = a.k.data() + l * N * m.kv;
    S* v = a.v.data() + l * N * m.kv;
    S* att = a.att.data() + l * N * d;
    S* gate = a.gate.data() + l * N * m.hidden;
    S* up = a.up.data() + l * N * m.hidden;
    S* hact = a.hact.data() + l * N * m.hidden;
    S* res_out = l + 1 < m.L ? a.res_in.data() + (l + 1) * N * d : a.res_final.data();
    // Attention block: res_mid = res_in + Wo attention(rope(Wq xn1), rope(Wk xn1), Wv xn1).
    rmsnorm_forward(xn1, a.rstd1.data() + l * N, res_in, L.attn_norm.data(), N, d, c.norm_eps);
    linear(Role::QProj, q, xn1, d, d);
    linear(Role::KProj, k, xn1, d, m.kv);
    linear(Role::VProj, v, xn1, d, m.kv);
    rope_forward(q, a.B, a.T, m.H, m.hd, c.rope_theta, c.rope);
    rope_forward(k, a.B, a.T, m.KVH, m.hd, c.rope_theta, c.rope);
    attention_forward(att, a.probs.data() + l * a.B * m.H * a.T * a.T, a.attn_scratch.data(), q, k, v, a.B, a.T, m.H,
                      m.KVH, m.hd);
    linear(Role::OProj, res_mid, att, d, d);
    add_residual(res_mid, res_in, N * d);
    // MLP block: res_out = res_mid + Wdown (silu(Wgate xn2) * Wup xn2).
    rmsnorm_forward(xn2, a.rstd2.data() + l * N, res_mid, L.ffn_norm.data(), N, d, c.norm_eps);
    linear(Role::GateProj, gate, xn2, d, m.hidden);
    linear(Role::UpProj, up, xn2, d, m.hidden);
    swiglu_forward(hact, gate, up, N * m.hidden);
    linear(Role::DownProj, res_out, hact, m.hidden, d);
    add_residual(res_out, res_mid, N * d);
  }
  rmsnorm_forward(a.xnf.data(), a.rstdf.data(), a.res_final.data(), w.dense.final_norm.data(), N, d, c.norm_eps);
  linear_fwd(-1, Role::LmHead, a.logits.data(), a.xnf.data(), d, m.V);
  const double total = cross_entropy_forward(a.loss.data(), a.lse.data(), a.logits.data(), a.targets.data(), N, m.V);
  a.scored = std::count_if(a.targets.begin(), a.targets.end(), [](int32_t t) { return t >= 0; });
  a.teacher_logits = distill.teacher_logits.empty() ? nullptr : distill.teacher_logits.data();
  a.distill_weight = distill.weight;
  a.kl_mean = 0;
  if (a.teacher_logits && a.scored > 0)
    a.kl_mean = distill_forward(a.kl.data(), a.teacher_lse.data(), a.logits.data(), a.lse.data(), a.teacher_logits,
                                a.targets.data(), N, m.V) /
                static_cast<double>(a.scored);
  return a.scored > 0 ? total / static_cast<double>(a.scored) : 0.0;
}

template <class S>
void train_backward(const StepWeights<S>& w, Activations<S>& a, TrainWeights<S>& g, double loss_scale,
                    WeightGradientSink<S>* sink) {
  const auto& c = w.config();
  const Dims m(c, a.B, a.T);
  const int64_t N = m.N, d = m.d;
  if (a.scored == 0) return;
  cross_entropy_backward(a.dlogits.data(), a.logits.data(), a.lse.data(), a.targets.data(), N, m.V,
                         loss_scale / static_cast<double>(a.scored));
  if (a.teacher_logits && a.distill_weight != 0)  // weight 0: not a single bit changes
    distill_backward(a.dlogits.data(), a.logits.data(), a.lse.data(), a.teacher_logits, a.teacher_lse.data(),
                     a.targets.data(), N, m.V, a.distill_weight * loss_scale / static_cast<double>(a.scored));
  // Classifier and final norm; dres is the gradient of the residual stream from here down.
  const WeightGradients<S> wg{w, a, g, sink, a.factor_tmp.data(), N};
  wg.backward(-1, {{Role::LmHead, a.dlogits.data(), m.V}}, a.dxn.data(), a.xnf.data(), d);
  std::fill(a.dres.begin(), a.dres.end(), S(0));
  rmsnorm_backward(a.dres.data(), data_or_null(g.final_norm), a.dxn.data(), a.res_final.data(),
                   w.dense.final_norm.data(), a.rstdf.data(), N, d);
  for (int64_t l = m.L - 1; l >= 0; --l) {
    const auto& L = w.dense.layers[static_cast<size_t>(l)];
    auto& G = g.layers[static_cast<size_t>(l)];
    const int li = static_cast<int>(l);
    const S* res_in = a.res_in.data() + l * N * d;
    const S* res_mid = a.res_mid.data() + l * N * d;
    const S* xn1 = a.xn1.data() + l * N * d;
    const S* xn2 = a.xn2.data() + l * N * d;
    const S* q = a.q.data() + l * N * d;
    const S* k = a.k.data() + l * N * m.kv;
    const S* v = a.v.data() + l * N * m.kv;
    const S* att = a.att.data() + l * N * d;
    const S* gate = a.gate.data() + l * N * m.hidden;
    const S* up = a.up.data() + l * N * m.hidden;
    const S* hact = a.hact.data() + l * N * m.hidden;
    // MLP block (the residual passes dres through unchanged).
    wg.backward(li, {{Role::DownProj, a.dres.data(), d}}, a.dhact.data(), hact, m.hidden);
    swiglu_backward(a.dgate.data(), a.dup.data(), a.dhact.data(), gate, up, N * m.hidden);
    wg.backward(li, {{Role::GateProj, a.dgate.data(), m.hidden}, {Role::UpProj, a.dup.data(), m.hidden}}, a.dxn.data(),
                xn2, d);
    rmsnorm_backward(a.dres.data(), data_or_null(G.ffn_norm), a.dxn.data(), res_mid, L.ffn_norm.data(),
                     a.rstd2.data() + l * N, N, d);
    // Attention block.
    wg.backward(li, {{Role::OProj, a.dres.data(), d}}, a.datt.data(), att, d);
    attention_backward(a.dq.data(), a.dk.data(), a.dv.data(), a.attn_scratch.data(), a.datt.data(),
                       a.probs.data() + l * a.B * m.H * a.T * a.T, q, k, v, a.B, a.T, m.H, m.KVH, m.hd);
    rope_backward(a.dq.data(), a.B, a.T, m.H, m.hd, c.rope_theta, c.rope);
    rope_backward(a.dk.data(), a.B, a.T, m.KVH, m.hd, c.rope_theta, c.rope);
    wg.backward(li, {{Role::QProj, a.dq.data(), d}, {Role::KProj, a.dk.data(), m.kv}, {Role::VProj, a.dv.data(), m.kv}},
                a.dxn.data(), xn1, d);
    rmsnorm_backward(a.dres.data(), data_or_null(G.attn_norm), a.dxn.data(), res_in, L.attn_norm.data(),
                     a.rstd1.data() + l * N, N, d);
  }
  wg.embedding_backward(a.dres.data(), a.inputs.data(), d);
}

template struct Activations<float>;
template struct Activations<double>;
template Activations<float> plan_activations<float>(const ModelConfig&, int64_t, int64_t);
template Activations<double> plan_activations<double>(const ModelConfig&, int64_t, int64_t);
template struct StepWeights<float>;
template struct StepWeights<double>;
template double train_forward<float>(const StepWeights<float>&, Activations<float>&, std::span<const int32_t>,
                                     std::span<const int32_t>, const Distillation<float>&);
template double train_forward<double>(const StepWeights<double>&, Activations<double>&, std::span<const int32_t>,
                                      std::span<const int32_t>, const Distillation<double>&);
template void train_backward<float>(const StepWeights<float>&, Activations<float>&, TrainWeights<float>&, double,
                                    WeightGradientSink<float>*);
template void train_backward<double>(const StepWeights<double>&, Activations<double>&, TrainWeights<double>&,
                                     double, WeightGradientSink<double>*);

}  // namespace ctscope::train
