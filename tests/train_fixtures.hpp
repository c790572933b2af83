// The tiny synthetic model and the finite-difference gradient check that the
// training tests (test_train.cpp, test_distill.cpp) share.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "linalg/blas_threads.hpp"
#include "train/train_step.hpp"
#include "util/normal_rng.hpp"

namespace ctscope::train::fixtures {

// Eval's chunks of `tokens` (plan_chunks at ctx) as one training batch of
// plan.n_chunks sequences: BOS (id 1) first, as eval runs each chunk, and only
// the positions eval scores (first .. ctx-2) have a target; the others -1.
inline TokenBatch eval_chunks_as_batch(const std::vector<int32_t>& tokens, int64_t n_chunks, int64_t first,
                                       int64_t ctx) {
  TokenBatch b;
  for (int64_t c = 0; c < n_chunks; ++c)
    for (int64_t j = 0; j < ctx; ++j) {
      b.inputs.push_back(j == 0 ? 1 : tokens[static_cast<size_t>(c * ctx + j)]);
      const bool scored = j >= first && j <= ctx - 2;
      b.targets.push_back(scored ? tokens[static_cast<size_t>(c * ctx + j + 1)] : -1);
    }
  return b;
}

// d = 16, 2 layers, 4 query heads sharing 2 KV heads (GQA), hidden 24, vocab 32.
inline ModelConfig tiny_config(RopeLayout layout) {
  ModelConfig c;
  c.dim = 16, c.hidden_dim = 24, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.vocab_size = 32;
  c.max_seq_len = 64, c.rope = layout, c.norm_eps = 1e-5, c.rope_theta = 10000.0;
  return c;
}

// Seeded N(0, 0.4^2) matrices and norms near 1: activations of order 1, no
// saturated softmax, so finite differences see every path.
template <class S>
TrainWeights<S> tiny_weights(const ModelConfig& c, bool tied, uint64_t seed) {
  TrainWeights<S> w;
  w.config = c;
  w.tied = tied;
  w.layers.resize(static_cast<size_t>(c.n_layers));
  NormalRng rng(seed);
  for (const auto& t : model_tensors(c, tied)) {
    const TensorShape s = tensor_shape(c, t.role);
    auto& v = w.tensor(t.layer, t.role);
    v.resize(static_cast<size_t>(s.size()));
    for (auto& x : v) x = static_cast<S>(s.cols == 1 ? 1.0 + 0.1 * rng() : 0.4 * rng());
  }
  return w;
}

// Two sequences of six tokens; a few targets are not scored (-1), as the
// first half of an eval chunk is not.
inline TokenBatch tiny_batch() {
  return {{1, 5, 9, 30, 2, 7, 3, 3, 17, 0, 31, 12}, {5, 9, -1, 2, 7, 11, -1, 17, 0, 31, 12, 4}};
}

inline std::vector<double> random_values(size_t n, uint64_t seed, double sd) {
  NormalRng rng(seed);
  std::vector<double> v(n);
  for (auto& x : v) x = sd * rng();
  return v;
}

inline std::vector<float> as_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

// Every test here multiplies tiny matrices: OpenBLAS threads would only cost
// (waking and spinning), so each holds it to one.
class TrainTest : public ::testing::Test {
  linalg::ScopedBlasThreads one_{1};
};

// The objective a step differentiates: mean CE + weight * mean KL.
inline double loss_of(ParameterSet<double>& ps, Activations<double>& a, const TokenBatch& b,
                      const TeacherFn<double>& teacher = {}) {
  ps.materialize();
  const Distillation<double> distill = teacher ? teacher(b.inputs) : Distillation<double>{};
  const double ce = train_forward(ps.step_weights(), a, b.inputs, b.targets, distill);
  return ce + distill.weight * a.kl_mean;
}

// Every trainable parameter's gradient at up to 12 entries spread over it
// against (L(x+h) - L(x-h)) / 2h: ||analytic - numeric|| / ||numeric|| <= 1e-4.
inline void check_gradients(ParameterSet<double>& ps, const ModelConfig& c, const TeacherFn<double>& teacher = {}) {
  Activations<double> a = plan_activations<double>(c, 2, 6);
  TrainWeights<double> grads = ps.gradient_buffers();
  const TokenBatch batch = tiny_batch();
  accumulate_gradients(ps, a, grads, std::span(&batch, 1), teacher);
  int checked = 0;
  for (auto& p : ps.params()) {
    if (!p.trainable) continue;
    const size_t n = p.value.size(), stride = std::max<size_t>(1, n / 12);
    double err2 = 0, ref2 = 0;
    for (size_t i = 0; i < n; i += stride) {
      const double x = p.value[i], h = 1e-5;
      p.value[i] = x + h;
      const double up = loss_of(ps, a, batch, teacher);
      p.value[i] = x - h;
      const double down = loss_of(ps, a, batch, teacher);
      p.value[i] = x;
      const double numeric = (up - down) / (2 * h);
      err2 += (p.grad[i] - numeric) * (p.grad[i] - numeric);
      ref2 += numeric * numeric;
    }
    EXPECT_GT(ref2, 1e-16) << p.name << ": a vanishing gradient checks nothing";
    EXPECT_LE(std::sqrt(err2 / ref2), 1e-4) << p.name;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

}  // namespace ctscope::train::fixtures
