// Training (src/train): the backward pass against central finite differences
// in double on a tiny synthetic model, for every kind of parameter; the
// training forward against eval's perplexity on the real stories260K; the
// optimizers, schedule, clipping and accumulation against hand-computed
// values; amplitude training in an orthonormal basis against dense training;
// and full fine-tuning overfitting a repeated text.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <map>
#include <numeric>

#include "ct/basis.hpp"
#include "ct/svd_basis.hpp"
#include "ct/universal_basis.hpp"
#include "ctfile/ct_weights.hpp"
#include "ctfile/ct_writer.hpp"
#include "eval/perplexity.hpp"
#include "io/checkpoint.hpp"
#include "linalg/blas_threads.hpp"
#include "runtime/llama_model.hpp"
#include "test_support.hpp"
#include "text/eval_tokens.hpp"
#include "train/ct_parameters.hpp"
#include "train/grad_clip.hpp"
#include "train/layers.hpp"
#include "train/optimizer.hpp"
#include "train/schedule.hpp"
#include "train/token_windows.hpp"
#include "train/train_run.hpp"
#include "train/train_step.hpp"
#include "train_fixtures.hpp"
#include "util/error.hpp"
#include "util/normal_rng.hpp"

namespace ctscope::train {
namespace {

using test_support::kModels;
using namespace fixtures;

class TrainGradients : public TrainTest {};
class TrainForward : public TrainTest {};
class TrainStep : public TrainTest {};
class TrainRun : public TrainTest {};
class TrainCt : public TrainTest {};

TEST_F(TrainGradients, EveryDenseTensorInBothRopeLayouts) {
  for (RopeLayout layout : {RopeLayout::Interleaved, RopeLayout::HalfSplit})
    for (bool tied : {false, true}) {
      SCOPED_TRACE(::testing::Message() << (layout == RopeLayout::Interleaved ? "interleaved" : "half-split")
                                        << (tied ? ", tied classifier" : ", own classifier"));
      const ModelConfig c = tiny_config(layout);
      ParameterSet<double> ps(tiny_weights<double>(c, tied, 11));
      for (const auto& t : model_tensors(c, tied)) ps.add_dense(t.layer, t.role);
      EXPECT_EQ(ps.params().size(), model_tensors(c, tied).size());
      check_gradients(ps, c);
    }
}

const std::vector<Role> kProjections = {Role::QProj,    Role::KProj,  Role::VProj,   Role::OProj,
                                        Role::GateProj, Role::UpProj, Role::DownProj};

// Amplitudes of every matrix (projections, embedding, classifier) in each
// basis at K = 8 < d, so the step applies them factored; svd's per-matrix
// basis and universal's shared basis and offset are trained too.
TEST_F(TrainGradients, AmplitudesOfEveryBasis) {
  const ModelConfig c = tiny_config(RopeLayout::Interleaved);
  const int K = 8;
  std::vector<TensorRole> linked = {{-1, Role::EmbedTokens}, {-1, Role::LmHead}};
  for (int l = 0; l < 2; ++l)
    for (Role r : kProjections) linked.push_back({l, r});
  for (auto kind : {ct::BasisKind::Gaussian, ct::BasisKind::Dct, ct::BasisKind::Random, ct::BasisKind::Svd,
                    ct::BasisKind::Universal}) {
    SCOPED_TRACE(std::string(ct::basis_name(kind)));
    const TrainWeights<double> w = tiny_weights<double>(c, false, 12);
    ParameterSet<double> ps(w);
    std::map<int64_t, int> shared;  // d -> basis id (fixed and universal bases)
    std::map<int64_t, ct::UniversalAccumulator> pooled;
    if (kind == ct::BasisKind::Universal)
      for (const auto& t : linked) {
        const TensorShape s = tensor_shape(c, t.role);
        const auto f = as_float(w.tensor(t.layer, t.role));
        pooled.try_emplace(s.cols, s.cols).first->second.add({DType::F32, f.data(), s.rows, s.cols});
      }
    uint64_t seed = 100;
    for (const auto& [l, r] : linked) {
      const TensorShape s = tensor_shape(c, r);
      int basis = -1;
      if (kind == ct::BasisKind::Svd) {
        const auto f = as_float(w.tensor(l, r));
        const ct::FactoredBasis b = ct::svd_basis({DType::F32, f.data(), s.rows, s.cols}, K);
        basis = ps.add_basis(hf_tensor_name(l, r), K, s.cols, b.B, {}, true);
      } else if (!shared.count(s.cols)) {
        const ct::FactoredBasis b = kind == ct::BasisKind::Universal ? pooled.at(s.cols).basis(K)
                                                                     : ct::make_fixed_basis(kind, K, s.cols);
        shared[s.cols] = ps.add_basis(fmt::format("ct.d{}", s.cols), K, s.cols, b.B, b.offset,
                                      kind == ct::BasisKind::Universal);
        EXPECT_EQ(b.offset.empty(), kind != ct::BasisKind::Universal);
      }
      if (basis < 0) basis = shared.at(s.cols);
      ps.add_amplitudes(l, r, basis, random_values(static_cast<size_t>(s.rows * K), seed++, 0.3));
    }
    EXPECT_EQ(ps.weight_bytes(), static_cast<uint64_t>(5 * c.dim) * sizeof(double)) << "only the norms held dense";
    check_gradients(ps, c);
  }
}

// A tied classifier is the embedding: its amplitudes get the lookup's and the
// classifier's gradients (universal basis with offset, trained).
TEST_F(TrainGradients, AmplitudesOfATiedEmbedding) {
  const ModelConfig c = tiny_config(RopeLayout::HalfSplit);
  const TrainWeights<double> w = tiny_weights<double>(c, true, 21);
  ParameterSet<double> ps(w);
  const auto f = as_float(w.embed);
  ct::UniversalAccumulator pool(c.dim);
  pool.add({DType::F32, f.data(), c.vocab_size, c.dim});
  const ct::FactoredBasis b = pool.basis(8);
  ps.add_amplitudes(-1, Role::EmbedTokens, ps.add_basis("ct.d16", 8, c.dim, b.B, b.offset, true),
                    random_values(static_cast<size_t>(c.vocab_size * 8), 22, 0.3));
  EXPECT_TRUE(ps.step_dense_weights().embed.empty());
  check_gradients(ps, c);
}

// LoRA factors of every projection (rank 3); B is made nonzero, else dA = 0.
TEST_F(TrainGradients, LoraFactors) {
  const ModelConfig c = tiny_config(RopeLayout::HalfSplit);
  ParameterSet<double> ps(tiny_weights<double>(c, true, 13));
  for (int l = 0; l < 2; ++l)
    for (Role r : kProjections) ps.add_lora(l, r, 3, 6.0, 7 + static_cast<uint64_t>(l));
  uint64_t seed = 200;
  for (auto& p : ps.params())
    if (p.name.ends_with(".lora_B")) p.value = random_values(p.value.size(), seed++, 0.2);
  // Per layer, rank 3: q, o 16x16 -> 2 * 96; k, v 8x16 -> 2 * 72; gate, up 24x16 and down 16x24 -> 3 * 120.
  EXPECT_EQ(ps.trainable_count(), 2u * (2 * 96 + 2 * 72 + 3 * 120));
  check_gradients(ps, c);
}

// LoRA starts at the model it adapts (B = 0); amplitudes at the fit's W_hat.
TEST(TrainParameters, LinksStartWhereTheyShould) {
  const ModelConfig c = tiny_config(RopeLayout::Interleaved);
  const TrainWeights<double> w = tiny_weights<double>(c, false, 14);
  ParameterSet<double> lora(w);
  lora.add_lora(0, Role::QProj, 2, 4.0, 1);
  EXPECT_EQ(lora.dense_weights().tensor(0, Role::QProj), w.tensor(0, Role::QProj));
  EXPECT_EQ(lora.trainable_count(), 2u * 16u + 2u * 16u);
  // Amplitudes at K = d in the identity basis give W back; a second link of one tensor is refused.
  ParameterSet<double> amp(w);
  std::vector<double> I(16 * 16, 0.0);
  for (int i = 0; i < 16; ++i) I[static_cast<size_t>(i * 17)] = 1.0;
  amp.add_amplitudes(1, Role::OProj, amp.add_basis("I", 16, 16, I, {}, false), w.tensor(1, Role::OProj));
  EXPECT_EQ(amp.dense_weights().tensor(1, Role::OProj), w.tensor(1, Role::OProj));
  EXPECT_EQ(amp.trainable_count(), 16u * 16u);
  EXPECT_THROW(amp.add_dense(1, Role::OProj), Error);
  ParameterSet<double> tied(tiny_weights<double>(c, true, 14));
  EXPECT_THROW(tied.add_dense(-1, Role::LmHead), Error);
}

// Step 0's mean loss is eval's mean NLL: the same chunks (BOS first), the same
// scored positions (the second half of each chunk), on the real model.
TEST_F(TrainForward, MeanLossIsEvalsMeanNll) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  const Checkpoint ck = Checkpoint::open(kModels / "stories260K.bin");
  auto tokens = load_eval_tokens(ck, std::string(CTSCOPE_SOURCE_DIR) + "/tests/data/story.txt", "",
                                 (kModels / "tok512.bin").string()).ids;
  const int64_t ctx = 64;
  tokens.resize(std::min<size_t>(tokens.size(), 6 * ctx + 5));  // six chunks and a dropped remainder: fast enough
  const ChunkPlan plan = plan_chunks(static_cast<int64_t>(tokens.size()), ctx, "story");
  ASSERT_GE(plan.n_chunks, 3);
  auto weights = std::make_shared<const LlamaWeights>(load_llama_weights(ck));
  LlamaModel model(weights, ctx);
  const double eval_nll =
      std::log(evaluate_perplexity(tokens, ctx, 1, ck.config.vocab_size, {chunk_logits(model)}).candidates[0].ppl);
  const TokenBatch b = eval_chunks_as_batch(tokens, plan.n_chunks, plan.first, ctx);
  Activations<float> af = plan_activations<float>(ck.config, plan.n_chunks, ctx);
  const double loss = train_forward(train_weights_from<float>(*weights), af, b.inputs, b.targets);
  EXPECT_NEAR(loss, eval_nll, 2e-6 * eval_nll) << "float training forward vs eval";
  Activations<double> ad = plan_activations<double>(ck.config, plan.n_chunks, ctx);
  EXPECT_NEAR(train_forward(train_weights_from<double>(*weights), ad, b.inputs, b.targets), eval_nll,
              1e-5 * eval_nll) << "double training forward vs eval";
  EXPECT_GT(eval_nll, 0.5);  // a real text, not a trivially predictable one
}

// Amplitude training starts where compress ends: the materialized model is
// the one eval runs on the .ct.safetensors compress writes, for a shared fixed
// basis, a per-matrix svd basis and the universal basis with its offset; the
// trainable count is compress's amplitude count (+ the norms when asked).
TEST_F(TrainCt, StartsAtTheCompressedModel) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  const Checkpoint ck = Checkpoint::open(kModels / "stories260K.bin");
  const test_support::TempDir dir("train_ct");
  const auto dense = train_weights_from<float>(load_llama_weights(ck));
  for (auto kind : {ct::BasisKind::Gaussian, ct::BasisKind::Svd, ct::BasisKind::Universal}) {
    SCOPED_TRACE(std::string(ct::basis_name(kind)));
    CtTrainSettings s;
    s.fit.K = 8, s.fit.basis = kind, s.norms = kind == ct::BasisKind::Gaussian;
    const ParameterSet<float> ps = ct_parameter_set(ck, s);
    const TrainWeights<float> w = ps.dense_weights();
    ctfile::CompressSettings cs;
    cs.K = 8, cs.basis = kind;
    const auto out = dir / (std::string(ct::basis_name(kind)) + ".ct.safetensors");
    const auto sum = ctfile::compress_checkpoint(ck, cs, out);
    const auto ref = train_weights_from<float>(ctfile::load_inference_weights(ctfile::open_for_inference(out)));
    const auto& c = ck.config;
    const uint64_t norms = s.norms ? static_cast<uint64_t>((2 * c.n_layers + 1) * c.dim) : 0;
    EXPECT_EQ(ps.trainable_count(), sum.amplitude_params + norms);
    int changed = 0;
    for (const auto& t : model_tensors(c, ref.tied)) {
      const auto &a = w.tensor(t.layer, t.role), &b = ref.tensor(t.layer, t.role);
      ASSERT_EQ(a.size(), b.size());
      double diff = 0, scale = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        diff = std::max(diff, static_cast<double>(std::abs(a[i] - b[i])));
        scale = std::max(scale, static_cast<double>(std::abs(b[i])));
      }
      EXPECT_LE(diff, 1e-5 * scale) << hf_tensor_name(t.layer, t.role);
      changed += a != dense.tensor(t.layer, t.role);  // the fitted ones moved: the comparison says something
    }
    EXPECT_EQ(changed, static_cast<int>(sum.fitted_matrices));
  }
}

// --- Optimizers, schedule, clipping, accumulation -----------------------------

// A parameter set holding one trainable vector x (as a basis of one row).
ParameterSet<double> one_param(std::vector<double> x) {
  ParameterSet<double> ps(tiny_weights<double>(tiny_config(RopeLayout::Interleaved), false, 1));
  const auto n = static_cast<int64_t>(x.size());
  ps.add_basis("p", 1, n, std::move(x), {}, true);
  return ps;
}

// train::gemm slices C's rows (M >= N) or columns among the workers: every
// transpose, both slicings, sizes that are not multiples of the slice grain,
// and beta, against a naive sum in double.
TEST(TrainGemm, EverySliceAndTransposeAgainstANaiveSum) {
  NormalRng rng(11);
  for (const auto [M, N, K] : {std::array<int64_t, 3>{70, 37, 19}, {37, 70, 19}, {1, 45, 8}, {45, 1, 8}})
    for (const bool ta : {false, true})
      for (const bool tb : {false, true}) {
        std::vector<float> A(static_cast<size_t>(M * K)), B(static_cast<size_t>(K * N)), C(static_cast<size_t>(M * N));
        for (auto* v : {&A, &B, &C})
          for (auto& x : *v) x = static_cast<float>(rng());
        const int64_t lda = ta ? M : K, ldb = tb ? K : N;
        auto a = [&](int64_t i, int64_t k) { return static_cast<double>(ta ? A[k * lda + i] : A[i * lda + k]); };
        auto b = [&](int64_t k, int64_t j) { return static_cast<double>(tb ? B[j * ldb + k] : B[k * ldb + j]); };
        std::vector<double> want(C.size());
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            double sum = 0;
            for (int64_t k = 0; k < K; ++k) sum += a(i, k) * b(k, j);
            want[i * N + j] = 0.5 * sum + 2.0 * C[i * N + j];
          }
        gemm<float>(ta, tb, M, N, K, 0.5f, A.data(), lda, B.data(), ldb, 2.0f, C.data(), N);
        for (size_t i = 0; i < C.size(); ++i)
          ASSERT_NEAR(C[i], want[i], 1e-5 * (1 + std::abs(want[i]))) << M << "x" << N << "x" << K << " " << ta << tb;
      }
}

// Products below the smallest normal float (a Gaussian basis's tails times
// activations) are flushed to zero inside train::gemm, which would otherwise
// run several times slower; the caller's own arithmetic keeps its subnormals.
TEST(TrainGemm, FlushesSubnormalsOnlyInside) {
  const std::vector<float> A(64 * 16, 1e-20f), B(16 * 64, 1e-21f);
  std::vector<float> C(64 * 64, 1.0f);
  gemm<float>(false, false, 64, 64, 16, 1.0f, A.data(), 16, B.data(), 64, 0.0f, C.data(), 64);
  for (const float c : C) ASSERT_EQ(c, 0.0f);  // 16e-41 is subnormal
  volatile float x = 1e-20f, y = 1e-21f;
  EXPECT_EQ(std::fpclassify(x * y), FP_SUBNORMAL);
}

TEST(TrainOptimizer, AdamWMatchesTheFormulaWithBiasCorrection) {
  auto ps = one_param({1.0, -2.0});
  OptimizerSettings s;
  s.weight_decay = 0.1;
  Optimizer<double> opt(s, ps);
  auto& p = ps.params()[0];
  const double lr = 0.01, grads[2][2] = {{0.5, -1.0}, {0.25, 3.0}};
  double x[2] = {1.0, -2.0}, m[2] = {0, 0}, v[2] = {0, 0};
  for (int t = 1; t <= 2; ++t) {
    p.grad = {grads[t - 1][0], grads[t - 1][1]};
    opt.step(ps, lr);
    for (int i = 0; i < 2; ++i) {
      const double g = grads[t - 1][i];
      m[i] = 0.9 * m[i] + 0.1 * g;
      v[i] = 0.999 * v[i] + 0.001 * g * g;
      const double mh = m[i] / (1 - std::pow(0.9, t)), vh = v[i] / (1 - std::pow(0.999, t));
      x[i] -= lr * (mh / (std::sqrt(vh) + 1e-8) + 0.1 * x[i]);
      EXPECT_NEAR(p.value[static_cast<size_t>(i)], x[i], 1e-15) << "step " << t;
    }
  }
  // Step 1 moves every coordinate by about lr whatever the gradient's scale (bias correction).
  auto ps2 = one_param({0.0});
  Optimizer<double> opt2({}, ps2);
  ps2.params()[0].grad = {1e-3};
  opt2.step(ps2, 0.01);
  EXPECT_NEAR(ps2.params()[0].value[0], -0.01, 1e-7);
}

TEST(TrainOptimizer, WeightDecayIsDecoupledAndSgdIsPlain) {
  // No gradient: AdamW's moments stay 0 and only the decay lr * wd * x acts.
  auto ps = one_param({2.0});
  OptimizerSettings s;
  s.weight_decay = 0.5;
  Optimizer<double> adamw(s, ps);
  adamw.step(ps, 0.1);
  EXPECT_NEAR(ps.params()[0].value[0], 2.0 - 0.1 * 0.5 * 2.0, 1e-15);
  auto sgd_ps = one_param({1.0, 3.0});
  Optimizer<double> sgd({.kind = OptimizerKind::Sgd}, sgd_ps);
  sgd_ps.params()[0].grad = {2.0, -4.0};
  sgd.step(sgd_ps, 0.25);
  EXPECT_EQ(sgd_ps.params()[0].value, (std::vector<double>{0.5, 4.0}));
  EXPECT_EQ(optimizer_from_name("sgd"), OptimizerKind::Sgd);
  EXPECT_EQ(optimizer_from_name("adam"), std::nullopt);
}

TEST(TrainSchedule, WarmupThenCosineToTheFloor) {
  const Schedule s{.lr = 1.0, .min_lr = 0.1, .warmup = 4, .steps = 14};
  EXPECT_DOUBLE_EQ(learning_rate(s, 0), 0.25);
  EXPECT_DOUBLE_EQ(learning_rate(s, 3), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(s, 4), 1.0);             // the cosine starts at the peak
  EXPECT_NEAR(learning_rate(s, 9), 0.1 + 0.5 * 0.9 * (1 + std::cos(M_PI * 5 / 9.0)), 1e-15);
  EXPECT_NEAR(learning_rate(s, 13), 0.1, 1e-15);          // the last step is at the floor
  for (int64_t t = 4; t < 13; ++t) EXPECT_GT(learning_rate(s, t), learning_rate(s, t + 1));
  EXPECT_DOUBLE_EQ(learning_rate({.lr = 0.5, .warmup = 0, .steps = 1}, 0), 0.5);
}

TEST(TrainClip, GlobalNormOverEveryParameter) {
  auto ps = one_param({0.0, 0.0});
  ps.add_basis("q", 1, 1, {0.0}, {}, true);
  ps.params()[0].grad = {3.0, 0.0};
  ps.params()[1].grad = {4.0};
  EXPECT_DOUBLE_EQ(clip_grad_norm(ps, 10.0), 5.0);  // under the limit: unchanged
  EXPECT_EQ(ps.params()[1].grad[0], 4.0);
  EXPECT_DOUBLE_EQ(clip_grad_norm(ps, 1.0), 5.0);
  EXPECT_NEAR(ps.params()[0].grad[0], 0.6, 1e-15);
  EXPECT_NEAR(ps.params()[1].grad[0], 0.8, 1e-15);
  EXPECT_NEAR(grad_norm(ps), 1.0, 1e-15);
}

// Two micro-batches of one sequence each give the gradient of one batch of
// both (every target scored, so the mean of means is the mean).
TEST_F(TrainStep, AccumulationEqualsTheWholeBatch) {
  const ModelConfig c = tiny_config(RopeLayout::Interleaved);
  const std::vector<int32_t> in = {1, 5, 9, 30, 2, 7, 3, 3, 17, 0, 31, 12}, tg = {5, 9, 30, 2, 7, 11, 3, 17, 0, 31, 12, 4};
  auto make = [&] {
    ParameterSet<double> ps(tiny_weights<double>(c, false, 15));
    for (const auto& t : model_tensors(c, false)) ps.add_dense(t.layer, t.role);
    return ps;
  };
  ParameterSet<double> whole = make(), parts = make();
  auto a2 = plan_activations<double>(c, 2, 6);
  auto a1 = plan_activations<double>(c, 1, 6);
  auto g2 = whole.gradient_buffers(), g1 = parts.gradient_buffers();
  const TokenBatch all{in, tg};
  const std::vector<TokenBatch> halves = {{{in.begin(), in.begin() + 6}, {tg.begin(), tg.begin() + 6}},
                                          {{in.begin() + 6, in.end()}, {tg.begin() + 6, tg.end()}}};
  const double l2 = accumulate_gradients(whole, a2, g2, std::span(&all, 1)).loss;
  const double l1 = accumulate_gradients(parts, a1, g1, halves).loss;
  EXPECT_NEAR(l1, l2, 1e-13);
  for (size_t i = 0; i < whole.params().size(); ++i) {
    const auto &x = whole.params()[i].grad, &y = parts.params()[i].grad;
    for (size_t j = 0; j < x.size(); ++j) ASSERT_NEAR(x[j], y[j], 1e-13) << whole.params()[i].name;
  }
}

// Windows of T inputs and their next tokens; each epoch visits every window
// once in a seeded order; a batch depends only on its index (resume).
TEST(TrainData, WindowsCoverEachEpochOnceInASeededOrder) {
  std::vector<int32_t> tokens(3 * 5 + 3);  // 3 windows of 5 (+1 target), 2 tokens left over
  std::iota(tokens.begin(), tokens.end(), 0);
  const TokenWindows w(tokens, 5, 42, "text");
  EXPECT_EQ(w.windows(), 3);
  std::vector<int32_t> starts;
  for (int64_t i = 0; i < 6; ++i) {  // two epochs of one window per batch
    const TokenBatch b = w.batch(i, 1);
    ASSERT_EQ(b.inputs.size(), 5u);
    for (size_t j = 0; j < 5; ++j) EXPECT_EQ(b.targets[j], b.inputs[j] + 1);
    EXPECT_EQ(b.inputs[0] % 5, 0);
    starts.push_back(b.inputs[0]);
  }
  for (int e = 0; e < 2; ++e) {
    std::vector<int32_t> epoch(starts.begin() + 3 * e, starts.begin() + 3 * e + 3);
    std::sort(epoch.begin(), epoch.end());
    EXPECT_EQ(epoch, (std::vector<int32_t>{0, 5, 10})) << "epoch " << e;
  }
  // The same batch whatever was asked before; B = 2 is windows 2i, 2i+1 of the same sequence.
  const TokenWindows fresh(tokens, 5, 42, "text");
  EXPECT_EQ(fresh.batch(4, 1).inputs, w.batch(4, 1).inputs);
  const TokenBatch pair = fresh.batch(1, 2);
  EXPECT_EQ(std::vector<int32_t>(pair.inputs.begin(), pair.inputs.begin() + 5), w.batch(2, 1).inputs);
  EXPECT_EQ(std::vector<int32_t>(pair.inputs.begin() + 5, pair.inputs.end()), w.batch(3, 1).inputs);
  // Another seed, another order (over 40 windows a repeat would be a 1 in 40! chance).
  std::vector<int32_t> many(401);
  std::iota(many.begin(), many.end(), 0);
  EXPECT_NE(TokenWindows(many, 10, 1, "t").batch(0, 40).inputs, TokenWindows(many, 10, 2, "t").batch(0, 40).inputs);
  EXPECT_THROW(TokenWindows(std::vector<int32_t>(5), 5, 1, "short.txt"), Error);
}

// --- Training runs ---------------------------------------------------------------

// W = A G with G orthogonal (the DCT-II rows normalized, K = d): an SGD step on
// A moves W by -lr dW G^T G = -lr dW, exactly dense SGD's step. The loss
// curves agree to float noise while both fall.
TEST_F(TrainRun, SgdOnOrthonormalDctAmplitudesFollowsDenseSgd) {
  const ModelConfig c = tiny_config(RopeLayout::Interleaved);
  const TrainWeights<float> w = tiny_weights<float>(c, false, 16);
  ParameterSet<float> dense(w), amp(w);
  std::map<int64_t, int> basis;
  std::map<int64_t, std::vector<float>> dct;
  for (int l = 0; l < 2; ++l)
    for (Role r : kProjections) {
      dense.add_dense(l, r);
      const TensorShape s = tensor_shape(c, r);
      const int64_t d = s.cols;
      if (!basis.count(d)) {
        std::vector<double> G = ct::dct_basis(static_cast<int>(d), d);
        for (int64_t k = 0; k < d; ++k) {
          double n2 = 0;
          for (int64_t j = 0; j < d; ++j) n2 += G[static_cast<size_t>(k * d + j)] * G[static_cast<size_t>(k * d + j)];
          for (int64_t j = 0; j < d; ++j) G[static_cast<size_t>(k * d + j)] /= std::sqrt(n2);
        }
        dct[d] = as_float(G);
        basis[d] = amp.add_basis(fmt::format("dct{}", d), d, d, dct[d], {}, false);
      }
      // A = W G^T (exact: G is orthogonal).
      std::vector<float> A(static_cast<size_t>(s.rows * d), 0.0f);
      const auto& W = w.tensor(l, r);
      const auto& Gv = dct[d];
      for (int64_t i = 0; i < s.rows; ++i)
        for (int64_t k = 0; k < d; ++k) {
          double acc = 0;
          for (int64_t j = 0; j < d; ++j)
            acc += static_cast<double>(W[static_cast<size_t>(i * d + j)]) * Gv[static_cast<size_t>(k * d + j)];
          A[static_cast<size_t>(i * d + k)] = static_cast<float>(acc);
        }
      amp.add_amplitudes(l, r, basis[d], std::move(A));
    }
  EXPECT_EQ(dense.trainable_count(), amp.trainable_count());
  const TokenBatch batch = tiny_batch();
  const OptimizerSettings sgd{.kind = OptimizerKind::Sgd};
  Optimizer<float> od(sgd, dense), oa(sgd, amp);
  auto ad = plan_activations<float>(c, 2, 6), aa = plan_activations<float>(c, 2, 6);
  auto gd = dense.gradient_buffers(), ga = amp.gradient_buffers();
  double first = 0, last = 0;
  for (int step = 0; step < 20; ++step) {
    const double ld = train_step(dense, ad, gd, std::span(&batch, 1), od, 0.02, 0).loss;
    const double la = train_step(amp, aa, ga, std::span(&batch, 1), oa, 0.02, 0).loss;
    // Float rounding (~1e-7) only: at this rate the loss falls monotonically. (At 0.05 it bumps near step
    // 13, and the dynamics amplify the same rounding to ~1e-4: a property of the run, not of the gradients.)
    EXPECT_NEAR(la, ld, 1e-5 * ld) << "step " << step;
    if (step == 0) first = ld;
    last = ld;
  }
  EXPECT_LT(last, 0.8 * first) << "both curves must fall, or their agreement says nothing";
}

// A run is a pure function of its inputs: twice the same run, the same
// parameters bit for bit; the log has every step; LoRA training with AdamW,
// warmup, cosine, clipping and two micro-batches per step lowers the loss.
TEST_F(TrainRun, IsDeterministicAndLearns) {
  const ModelConfig c = tiny_config(RopeLayout::Interleaved);
  std::vector<int32_t> text;
  for (int i = 0; i < 200; ++i) text.push_back(static_cast<int32_t>((i * 7 + i / 9) % 32));
  const TokenWindows data(text, 12, 3, "text");
  RunSettings s;
  s.steps = 30, s.batch = 2, s.accumulate = 2, s.clip = 1.0;
  s.schedule = {.lr = 3e-2, .min_lr = 3e-3, .warmup = 3};
  s.optimizer.weight_decay = 0.01;
  auto run = [&](std::vector<StepLog>* logs) {
    ParameterSet<float> ps(tiny_weights<float>(c, false, 18));
    for (int l = 0; l < 2; ++l)
      for (Role r : kProjections) ps.add_lora(l, r, 2, 4.0, 9);
    train_run(ps, data, s, [&](const StepLog& l) { logs->push_back(l); });
    return ps;
  };
  std::vector<StepLog> la, lb;
  const auto a = run(&la), b = run(&lb);
  ASSERT_EQ(la.size(), 30u);
  for (size_t i = 0; i < a.params().size(); ++i) EXPECT_EQ(a.params()[i].value, b.params()[i].value);
  for (size_t i = 0; i < la.size(); ++i) EXPECT_EQ(la[i].loss, lb[i].loss);
  EXPECT_LT(la.back().loss, 0.8 * la.front().loss);
  EXPECT_DOUBLE_EQ(la.front().lr, 1e-2);  // warmup step 1 of 3
  EXPECT_EQ(la[5].to_json()["step"], 5);
}

// Full fine-tuning of the tiny model learns a short text repeated (period 9):
// every next token follows from the ones before, so the loss goes to ~0.
TEST_F(TrainRun, FullFineTuningOverfitsARepeatedText) {
  const ModelConfig c = tiny_config(RopeLayout::HalfSplit);
  ParameterSet<float> ps(tiny_weights<float>(c, false, 17));
  for (const auto& t : model_tensors(c, false)) ps.add_dense(t.layer, t.role);
  const std::vector<int32_t> text = {4, 19, 8, 27, 1, 12, 30, 6, 22};
  TokenBatch b;
  for (int s = 0; s < 2; ++s)
    for (int t = 0; t < 24; ++t) {
      b.inputs.push_back(text[static_cast<size_t>((t + 4 * s) % 9)]);
      b.targets.push_back(text[static_cast<size_t>((t + 4 * s + 1) % 9)]);
    }
  auto a = plan_activations<float>(c, 2, 24);
  auto g = ps.gradient_buffers();
  Optimizer<float> opt({.weight_decay = 0.0}, ps);
  const Schedule sched{.lr = 1e-2, .min_lr = 1e-3, .warmup = 10, .steps = 150};
  double loss = 0;
  for (int64_t step = 0; step < sched.steps; ++step)
    loss = train_step(ps, a, g, std::span(&b, 1), opt, learning_rate(sched, step), 1.0).loss;
  EXPECT_LT(loss, 0.05);
}

// Amplitudes of layer 0 and of the embedding (the classifier too when tied)
// in a trainable basis, with a trainable offset when asked (every factor of
// the link trains), LoRA on layer 1 (and on an untied classifier), every
// norm dense.
template <class S>
ParameterSet<S> factored_and_dense(const ModelConfig& c, bool tied, bool offset, bool mixed = false) {
  ParameterSet<S> ps(tiny_weights<S>(c, tied, 19));
  auto values = [](size_t n, uint64_t seed, double sd) {
    const std::vector<double> v = random_values(n, seed, sd);
    return std::vector<S>(v.begin(), v.end());
  };
  const int K = 4;
  std::map<int64_t, int> basis;
  uint64_t seed = 300;
  auto amplitudes = [&](int layer, Role r) {
    const TensorShape s = tensor_shape(c, r);
    if (mixed && r == Role::KProj) basis.erase(s.cols);  // q keeps its basis; k starts another, v shares k's
    if (!basis.count(s.cols)) {
      std::vector<S> G = values(static_cast<size_t>(K * s.cols), seed++, 0.3);
      std::vector<S> o = offset ? values(static_cast<size_t>(s.cols), seed++, 0.1) : std::vector<S>{};
      basis[s.cols] = ps.add_basis(fmt::format("b{}", s.cols), K, s.cols, std::move(G), std::move(o), true);
    }
    ps.add_amplitudes(layer, r, basis.at(s.cols), values(static_cast<size_t>(s.rows * K), seed++, 0.3));
  };
  for (Role r : kProjections) {
    if (mixed && r == Role::UpProj) ps.add_dense(0, r);  // gate factored, up dense: one input, both kinds
    else amplitudes(0, r);
    ps.add_lora(1, r, 3, 6.0, seed++);
  }
  amplitudes(-1, Role::EmbedTokens);
  if (!tied) ps.add_lora(-1, Role::LmHead, 3, 6.0, seed++);
  for (auto& p : ps.params())
    if (p.name.ends_with(".lora_B")) p.value = values(p.value.size(), seed++, 0.2);
  for (int l = 0; l < 2; ++l) {
    ps.add_dense(l, Role::InputLayernorm);
    ps.add_dense(l, Role::PostAttentionLayernorm);
  }
  ps.add_dense(-1, Role::Norm);
  return ps;
}

// The step applies the amplitude links factored (x G^T A^T, W never formed,
// the embedding a lookup of A's rows times G) and streams every factored
// link's gradient into its factors without a dense buffer (only the norms
// get one). Its loss and every parameter gradient equal the dense path's:
// the model materialized (dense_weights), dense dW = dout^T x for every
// matrix, then dA = dW G^T, dG = A^T dW, do = 1^T dW (LoRA: dB = s dW A^T,
// dA = s B^T dW). Not bit for bit: the same sums associated another way, so
// they agree to rounding: 1e-12 relative in double, 1e-5 in float.
template <class S>
void check_factored_step(bool tied, bool offset, double tolerance, bool mixed = false) {
  SCOPED_TRACE(::testing::Message() << (tied ? "tied" : "untied") << (offset ? ", offset" : ", no offset")
                                    << (mixed ? ", mixed" : ""));
  const ModelConfig c = tiny_config(RopeLayout::Interleaved);
  ParameterSet<S> ps = factored_and_dense<S>(c, tied, offset, mixed);
  TrainWeights<S> grads = ps.gradient_buffers();
  uint64_t dense_bytes = 0;
  for (const auto& t : model_tensors(c, tied)) {
    const TensorShape s = tensor_shape(c, t.role);
    const bool dense = s.cols == 1 || (mixed && t.layer == 0 && t.role == Role::UpProj);
    EXPECT_EQ(grads.tensor(t.layer, t.role).empty(), !dense) << hf_tensor_name(t.layer, t.role);
    if (dense) dense_bytes += static_cast<uint64_t>(s.size()) * sizeof(S);
  }
  EXPECT_EQ(tensor_bytes(grads), dense_bytes);
  Activations<S> a = plan_activations<S>(c, 2, 6);
  const TokenBatch batch = tiny_batch();
  const double factored_loss = accumulate_gradients(ps, a, grads, std::span(&batch, 1)).loss;
  // Parameter gradients plus a scratch of at most N x K (N = 12 tokens, K <= 4).
  EXPECT_LE(ps.gradient_bytes(), (ps.trainable_count() + 12 * 4) * sizeof(S) + (mixed ? dense_bytes : 0));
  std::vector<std::vector<S>> streamed;
  for (const auto& p : ps.params()) streamed.push_back(p.grad);

  const TrainWeights<S> W = ps.dense_weights();
  TrainWeights<S> dense = zero_gradients(W, [](int, Role) { return true; });
  ps.zero_grad();
  const double dense_loss = train_forward(W, a, batch.inputs, batch.targets);
  train_backward(W, a, dense);
  ps.collect(dense);
  EXPECT_NEAR(factored_loss, dense_loss, tolerance * dense_loss);
  int compared = 0;
  for (size_t i = 0; i < ps.params().size(); ++i) {
    const auto& p = ps.params()[i];
    if (!p.trainable) continue;
    double err2 = 0, ref2 = 0;
    for (size_t j = 0; j < p.grad.size(); ++j) {
      const double e = static_cast<double>(streamed[i][j]) - static_cast<double>(p.grad[j]);
      err2 += e * e;
      ref2 += static_cast<double>(p.grad[j]) * p.grad[j];
    }
    EXPECT_GT(ref2, 0.0) << p.name;
    EXPECT_LE(std::sqrt(err2 / ref2), tolerance) << p.name;
    ++compared;
  }
  // Amplitudes (7 + embedding), two bases (and offsets), LoRA B and A (7, +
  // classifier), norms. Mixed: up is dense, and q has a basis of its own.
  const int bases = mixed ? 3 : 2;
  EXPECT_EQ(compared, 8 + (offset ? 2 : 1) * bases + 2 * (tied ? 7 : 8) + 5);
}

TEST_F(TrainGradients, FactoredStepEqualsTheMaterializedModelInDouble) {
  for (bool tied : {false, true})
    for (bool offset : {false, true}) check_factored_step<double>(tied, offset, 1e-12);
}
TEST_F(TrainGradients, FactoredStepEqualsTheMaterializedModelInFloat) { check_factored_step<float>(false, true, 1e-5); }
// q, k, v and gate, up share their input's x G^T and one (sum dout_i A_i) G
// when they share a basis: here q has a basis of its own (k and v share
// another), and up is dense beside a factored gate.
TEST_F(TrainGradients, FactoredStepWithBasesNotSharedAndDenseNeighbours) {
  for (bool offset : {false, true}) check_factored_step<double>(false, offset, 1e-12, true);
}

// StepWeights takes a factored matrix only with K below its row length (the
// scratch is planned for that), and a tensor it holds neither way is an error.
TEST(TrainParameters, StepWeightsRefuseWhatTheStepCannotRun) {
  const ModelConfig c = tiny_config(RopeLayout::HalfSplit);
  TrainWeights<double> w = tiny_weights<double>(c, false, 23);
  std::vector<double>().swap(w.layers[0].wq);
  StepWeights<double> sw(w);
  const std::vector<double> A(16 * 16), G(16 * 16);
  EXPECT_THROW(sw.add_factored({0, Role::QProj}, {nullptr, A.data(), G.data(), nullptr, 16}), Error) << "K = d";
  EXPECT_THROW(sw.matrix(0, Role::QProj), Error) << "neither factored nor dense";
  sw.add_factored({0, Role::QProj}, {nullptr, A.data(), G.data(), nullptr, 8});
  EXPECT_EQ(sw.matrix(0, Role::QProj).K, 8);
  EXPECT_EQ(sw.matrix(0, Role::KProj).W, w.layers[0].wk.data());
}

// The step's dense weights hold no amplitude-linked tensor (the memory the
// factored step saves: the 4.4 GB dense model at TinyLlama shapes), while
// dense_weights() still gives every tensor.
TEST_F(TrainGradients, StepWeightsHoldNoAmplitudeLinkedTensor) {
  const ModelConfig c = tiny_config(RopeLayout::Interleaved);
  for (bool tied : {false, true}) {
    const ParameterSet<double> ps = factored_and_dense<double>(c, tied, true);
    const TrainWeights<double> all = ps.dense_weights();
    uint64_t held = 0;
    int amplitude_linked = 0;
    for (const auto& t : model_tensors(c, tied)) {
      const bool amplitudes = ps.link_kind(t.layer, t.role) == LinkKind::Amplitudes;
      amplitude_linked += amplitudes;
      EXPECT_EQ(ps.step_dense_weights().tensor(t.layer, t.role).empty(), amplitudes) << hf_tensor_name(t.layer, t.role);
      EXPECT_EQ(all.tensor(t.layer, t.role).size(), static_cast<size_t>(tensor_shape(c, t.role).size()));
      if (!amplitudes) held += static_cast<uint64_t>(tensor_shape(c, t.role).size()) * sizeof(double);
    }
    EXPECT_EQ(amplitude_linked, 8);
    EXPECT_EQ(ps.weight_bytes(), held);
  }
}

// Loading moves the float tensors instead of copying them (no second copy of
// the model at its peak); the copy and the move give the same weights.
TEST(TrainWeightsLoad, MovesFloatTensors) {
  const ModelConfig c = tiny_config(RopeLayout::HalfSplit);
  LlamaWeights lw = to_llama_weights(tiny_weights<float>(c, false, 20));
  const TrainWeights<float> copied = train_weights_from<float>(lw);
  const float* wq = lw.layers[1].wq.data();
  const TrainWeights<float> moved = train_weights_from<float>(std::move(lw));
  EXPECT_EQ(moved.layers[1].wq.data(), wq);
  for (const auto& t : model_tensors(c, false))
    EXPECT_EQ(moved.tensor(t.layer, t.role), copied.tensor(t.layer, t.role)) << hf_tensor_name(t.layer, t.role);
  EXPECT_EQ(tensor_bytes(moved), tensor_bytes(copied));
}

}  // namespace
}  // namespace ctscope::train
