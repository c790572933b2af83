// finetune validates on the training forward with the amplitude links
// factored; its numbers must be eval's on the same model run dense.
#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "ct/basis.hpp"
#include "eval/finetune_run.hpp"
#include "train_fixtures.hpp"

#include <fmt/format.h>

using namespace ctscope;
using namespace ctscope::train;
using namespace ctscope::train::fixtures;

namespace {

// Every projection and the classifier as A G (Gaussian, K = 8, A random), the
// norms and the embedding as they are.
ParameterSet<float> amplitude_model(const TrainWeights<float>& w) {
  const ModelConfig& c = w.config;
  ParameterSet<float> ps(w);
  uint64_t seed = 40;
  for (const auto& t : model_tensors(c, w.tied)) {
    const TensorShape s = tensor_shape(c, t.role);
    if (t.role == Role::EmbedTokens || s.cols == 1) continue;  // the embedding and the norms stay
    const ct::FactoredBasis b = ct::make_fixed_basis(ct::BasisKind::Gaussian, 8, s.cols);
    const int basis = ps.add_basis(fmt::format("basis.{}.{}", t.layer, static_cast<int>(t.role)), 8, s.cols,
                                   as_float(b.B), {}, false);
    const auto A = random_values(static_cast<size_t>(s.rows * 8), seed++, 0.5);
    ps.add_amplitudes(t.layer, t.role, basis, as_float(A));
  }
  return ps;
}

// Validation data of `chunks` chunks of 16 random tokens (and a few left
// over), against `reference` when given.
FinetuneData random_validation(const ModelConfig& c, int64_t chunks, uint64_t seed,
                               std::shared_ptr<const LlamaWeights> reference = nullptr) {
  FinetuneData d;
  d.ctx = 16;
  d.valid_where = "random tokens";
  d.valid_tokens = std::vector<int32_t>(static_cast<size_t>(chunks * d.ctx + 5));
  NormalRng rng(seed);
  for (auto& t : d.valid_tokens) t = static_cast<int32_t>(rng.bits() % static_cast<uint64_t>(c.vocab_size));
  d.reference = std::move(reference);
  return d;
}

}  // namespace

TEST(FinetuneValidate, FactoredValidationIsEvalsRuleOnTheDenseModel) {
  const ModelConfig c = tiny_config(RopeLayout::HalfSplit);
  const TrainWeights<float> original = tiny_weights<float>(c, false, 31);
  ParameterSet<float> ps = amplitude_model(original);
  ASSERT_TRUE(ps.step_dense_weights().layers[0].wq.empty()) << "the projections must run factored";

  const FinetuneData d = random_validation(c, 4, 7, std::make_shared<const LlamaWeights>(to_llama_weights(original)));

  std::optional<Activations<float>> scratch;
  const EvalResult factored = validate(ps, d, scratch);
  const EvalResult again = validate(ps, d, scratch);  // the scratch is reused
  const EvalResult dense = validate(std::make_shared<const LlamaWeights>(to_llama_weights(ps.dense_weights())), d);
  ASSERT_TRUE(factored.kl_mean && dense.kl_mean && factored.top1_agreement && dense.top1_agreement);
  EXPECT_EQ(factored.scored_tokens, dense.scored_tokens);
  EXPECT_EQ(factored.chunks, 4);
  EXPECT_NEAR(factored.ppl, dense.ppl, 1e-5 * dense.ppl);
  EXPECT_NEAR(*factored.kl_mean, *dense.kl_mean, 1e-5 * (1 + *dense.kl_mean));
  EXPECT_EQ(*factored.top1_agreement, *dense.top1_agreement);
  EXPECT_EQ(again.ppl, factored.ppl);
  EXPECT_GT(*dense.kl_mean, 1e-3) << "the amplitude model must differ from the reference for KL to mean anything";
}

// After an optimizer update the step's dense part (LoRA, dense links) still
// holds the previous parameters until the next step materializes: validation
// must see the current ones, as the written model does.
TEST(FinetuneValidate, SeesTheCurrentParametersOfEveryLinkKind) {
  const ModelConfig c = tiny_config(RopeLayout::HalfSplit);
  const TrainWeights<float> original = tiny_weights<float>(c, false, 33);
  ParameterSet<float> ps(original);
  ps.add_lora(0, Role::QProj, 2, 2.0, 5);
  ps.add_dense(1, Role::DownProj);
  ps.materialize();  // what a step does before its forward
  for (auto& p : ps.params())  // then an "update" of every trainable parameter (LoRA's B starts at 0)
    if (p.trainable)
      for (size_t i = 0; i < p.value.size(); ++i) p.value[i] += 0.3f * static_cast<float>((i * 7919) % 13) / 13.0f;

  const FinetuneData d = random_validation(c, 3, 9);
  const EvalResult dense = validate(std::make_shared<const LlamaWeights>(to_llama_weights(ps.dense_weights())), d);
  const EvalResult stale = validate(std::make_shared<const LlamaWeights>(to_llama_weights(original)), d);
  std::optional<Activations<float>> scratch;
  const EvalResult factored = validate(ps, d, scratch);
  ASSERT_GT(std::abs(dense.ppl - stale.ppl), 1e-3 * dense.ppl) << "the update must change the model";
  EXPECT_NEAR(factored.ppl, dense.ppl, 1e-5 * dense.ppl);
}
