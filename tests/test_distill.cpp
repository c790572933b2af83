// Distillation (issue 11): the KL(teacher || student) term of the training
// loss against central finite differences in double, its vanishing when the
// teacher is the student, weight 0 giving a teacher-less run bit for bit, the
// reported KL against eval's kl_mean on the real stories260K, a run that pulls
// the student to its teacher, and the teacher-sampled training text.
#include <gtest/gtest.h>

#include <cctype>
#include <memory>

#include "ct/basis.hpp"
#include "eval/perplexity.hpp"
#include "io/checkpoint.hpp"
#include "runtime/llama_model.hpp"
#include "test_support.hpp"
#include "text/bpe_tokenizer.hpp"
#include "text/eval_tokens.hpp"
#include "train/teacher.hpp"
#include "train/teacher_tokens.hpp"
#include "train/token_windows.hpp"
#include "train/train_run.hpp"
#include "train_fixtures.hpp"
#include "util/error.hpp"

namespace ctscope::train {
namespace {

using test_support::kModels;
using namespace fixtures;

class Distill : public TrainTest {};

// A double teacher of its own weights: its training forward's logits.
struct DoubleTeacher {
  TrainWeights<double> w;
  double weight;
  Activations<double> a = plan_activations<double>(w.config, 2, 6);
  TeacherFn<double> fn() {
    return [this](std::span<const int32_t> inputs) {
      const std::vector<int32_t> unscored(inputs.size(), 0);  // the teacher's loss is not wanted
      train_forward(w, a, inputs, unscored);
      return Distillation<double>{a.logits, weight};
    };
  }
};

// Amplitudes of two projections (gaussian basis, K = 8) and two dense
// matrices, trained with w = 0.5 toward a teacher that differs from the student.
TEST_F(Distill, GradientOfTheKlTermMatchesFiniteDifferences) {
  const ModelConfig c = tiny_config(RopeLayout::HalfSplit);
  const TrainWeights<double> w = tiny_weights<double>(c, false, 31);
  ParameterSet<double> ps(w);
  const ct::FactoredBasis G = ct::make_fixed_basis(ct::BasisKind::Gaussian, 8, c.dim);
  const int basis = ps.add_basis("ct.d16", 8, c.dim, G.B, {}, false);
  ps.add_amplitudes(0, Role::QProj, basis, random_values(16 * 8, 301, 0.3));
  ps.add_amplitudes(1, Role::GateProj, basis, random_values(24 * 8, 302, 0.3));
  ps.add_dense(1, Role::DownProj);
  ps.add_dense(-1, Role::LmHead);
  DoubleTeacher teacher{tiny_weights<double>(c, false, 32), 0.5};
  check_gradients(ps, c, teacher.fn());

  // The KL term is a real part of that gradient, not noise beside the CE's.
  Activations<double> a = plan_activations<double>(c, 2, 6);
  TrainWeights<double> g = ps.gradient_buffers();
  const TokenBatch batch = tiny_batch();
  const StepResult with = accumulate_gradients(ps, a, g, std::span(&batch, 1), teacher.fn());
  const auto& q = ps.params()[1];  // after the basis
  ASSERT_EQ(q.name, "model.layers.0.self_attn.q_proj.weight.ct_amplitudes");
  const auto grad_with = q.grad;
  const StepResult without = accumulate_gradients(ps, a, g, std::span(&batch, 1));
  const auto& grad_without = q.grad;
  double diff2 = 0, ref2 = 0;
  for (size_t i = 0; i < grad_with.size(); ++i) {
    diff2 += (grad_with[i] - grad_without[i]) * (grad_with[i] - grad_without[i]);
    ref2 += grad_without[i] * grad_without[i];
  }
  EXPECT_GT(diff2, 0.01 * ref2);
  EXPECT_GT(with.kl, 0.05);
  EXPECT_EQ(with.loss, without.loss);  // loss is the CE alone, the KL beside it
  EXPECT_EQ(without.kl, 0.0);
}

// One step of the tiny batch on two all-dense copies of w: without a teacher
// and with `teacher`. Their losses and KL, and every gradient bit for bit equal.
struct WithAndWithout {
  StepResult plain, taught;
};
WithAndWithout step_with_and_without(const ModelConfig& c, const TrainWeights<double>& w, bool tied,
                                     const TeacherFn<double>& teacher) {
  auto dense = [&] {
    ParameterSet<double> ps(w);
    for (const auto& t : model_tensors(c, tied)) ps.add_dense(t.layer, t.role);
    return ps;
  };
  ParameterSet<double> plain = dense(), taught = dense();
  Activations<double> a = plan_activations<double>(c, 2, 6);
  TrainWeights<double> g = plain.gradient_buffers();
  const TokenBatch batch = tiny_batch();
  WithAndWithout r;
  r.plain = accumulate_gradients(plain, a, g, std::span(&batch, 1));
  r.taught = accumulate_gradients(taught, a, g, std::span(&batch, 1), teacher);
  EXPECT_EQ(plain.params().size(), taught.params().size());
  for (size_t i = 0; i < plain.params().size(); ++i) EXPECT_EQ(plain.params()[i].grad, taught.params()[i].grad) << i;
  return r;
}

TEST_F(Distill, TeacherEqualToTheStudentAddsNothing) {
  const ModelConfig c = tiny_config(RopeLayout::Interleaved);
  const TrainWeights<double> w = tiny_weights<double>(c, true, 33);
  DoubleTeacher self{w, 0.5};
  const auto r = step_with_and_without(c, w, true, self.fn());
  EXPECT_EQ(r.taught.kl, 0.0);
  EXPECT_EQ(r.taught.loss, r.plain.loss);
}

TEST_F(Distill, WeightZeroIsExactlyTheRunWithoutTeacher) {
  const ModelConfig c = tiny_config(RopeLayout::HalfSplit);
  DoubleTeacher other{tiny_weights<double>(c, false, 35), 0.0};
  const auto r = step_with_and_without(c, tiny_weights<double>(c, false, 34), false, other.fn());
  EXPECT_GT(r.taught.kl, 0.05);  // measured and reported, but not trained on
  EXPECT_EQ(r.taught.loss, r.plain.loss);
}

// The KL the training loss reports is eval's kl_mean (eval --ref) on the same
// chunks and scored positions: a student made from stories260K by damping one
// MLP and the final norm, the original as the teacher.
TEST_F(Distill, ReportedKlIsEvalsKlMean) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  const Checkpoint ck = Checkpoint::open(kModels / "stories260K.bin");
  auto tokens = load_eval_tokens(ck, std::string(CTSCOPE_SOURCE_DIR) + "/tests/data/story.txt", "",
                                 (kModels / "tok512.bin").string()).ids;
  const int64_t ctx = 64, V = ck.config.vocab_size;
  tokens.resize(std::min<size_t>(tokens.size(), 4 * ctx));
  const ChunkPlan plan = plan_chunks(static_cast<int64_t>(tokens.size()), ctx, "story");
  auto original = std::make_shared<const LlamaWeights>(load_llama_weights(ck));
  TrainWeights<float> student = train_weights_from<float>(*original);
  for (auto& x : student.layers[1].w_up) x *= 0.5f;
  for (auto& x : student.final_norm) x *= 0.8f;
  LlamaModel teacher_model(original, ctx);
  LlamaModel student_model(std::make_shared<const LlamaWeights>(to_llama_weights(student)), ctx);
  const ChunkLogitsFn ref = chunk_logits(teacher_model);
  const EvalResult eval = evaluate_perplexity(tokens, ctx, 1, V, {chunk_logits(student_model)}, &ref).candidates[0];
  ASSERT_TRUE(eval.kl_mean.has_value());

  const TokenBatch b = eval_chunks_as_batch(tokens, plan.n_chunks, plan.first, ctx);
  Teacher teacher(original, V, plan.n_chunks, ctx, 0.5, "stories260K.bin");
  Activations<float> a = plan_activations<float>(ck.config, plan.n_chunks, ctx);
  train_forward(student, a, b.inputs, b.targets, teacher(b.inputs));
  EXPECT_NEAR(a.kl_mean, *eval.kl_mean, 1e-6);
  EXPECT_GT(*eval.kl_mean, 0.01);  // the student really differs
}

TEST_F(Distill, TeacherOfAnotherVocabularyIsRefused) {
  const ModelConfig c = tiny_config(RopeLayout::Interleaved);
  auto w = std::make_shared<const LlamaWeights>(to_llama_weights(tiny_weights<float>(c, false, 36)));
  EXPECT_THROW(Teacher(w, 33, 1, 4, 1.0, "teacher.bin"), Error);
  EXPECT_THROW(Teacher(w, 32, 1, 4, -1.0, "teacher.bin"), Error);
  Teacher t(w, 32, 1, 4, 1.0, "teacher.bin");
  EXPECT_EQ(t(std::vector<int32_t>{1, 2, 3, 4}).teacher_logits.size(), 4u * 32u);
  EXPECT_THROW(t(std::vector<int32_t>{1, 2, 3}), Error);
}

// Training with the teacher's KL pulls the student's distribution to it.
TEST_F(Distill, RunPullsTheStudentToItsTeacher) {
  const ModelConfig c = tiny_config(RopeLayout::Interleaved);
  std::vector<int32_t> text;
  for (int i = 0; i < 200; ++i) text.push_back(static_cast<int32_t>((i * 7 + i / 9) % 32));
  const TokenWindows data(text, 12, 3, "text");
  RunSettings s;
  s.steps = 30, s.batch = 2;
  s.schedule = {.lr = 3e-2, .min_lr = 3e-3, .warmup = 3};
  ParameterSet<float> ps(tiny_weights<float>(c, false, 37));
  for (const auto& t : model_tensors(c, false)) ps.add_dense(t.layer, t.role);
  Teacher teacher(std::make_shared<const LlamaWeights>(to_llama_weights(tiny_weights<float>(c, false, 38))), 32,
                  s.batch, 12, 4.0, "teacher");
  std::vector<StepLog> logs;
  train_run(ps, data, s, [&](const StepLog& l) { logs.push_back(l); }, {}, teacher.fn());
  ASSERT_EQ(logs.size(), 30u);
  ASSERT_TRUE(logs.front().kl && logs.back().kl);
  EXPECT_LT(*logs.back().kl, 0.5 * *logs.front().kl);
  EXPECT_EQ(logs[3].to_json()["train_kl"], *logs[3].kl);
}

// Splits a teacher sample into its sequences (each starts at a BOS, and BOS
// appears nowhere else: the teacher emitting it ends a sequence).
std::vector<std::vector<int32_t>> sequences_of(const std::vector<int32_t>& ids, int32_t bos) {
  std::vector<std::vector<int32_t>> seqs;
  for (int32_t id : ids) {
    if (id == bos) seqs.emplace_back();
    if (seqs.empty()) return {};  // not starting with BOS
    seqs.back().push_back(id);
  }
  return seqs;
}

TEST_F(Distill, TeacherSampleIsSeededSequencesFromBos) {
  const ModelConfig c = tiny_config(RopeLayout::HalfSplit);
  const LlamaWeights w = to_llama_weights(tiny_weights<float>(c, false, 39));
  const int64_t ctx = 12;
  const auto a = sample_teacher_tokens(w, 500, ctx, 5, 1);
  EXPECT_EQ(a, sample_teacher_tokens(w, 500, ctx, 5, 1));
  EXPECT_NE(a, sample_teacher_tokens(w, 500, ctx, 6, 1));
  ASSERT_EQ(a.size(), 500u);
  for (int32_t id : a) EXPECT_TRUE(id >= 0 && id < 32 && id != 2) << id;  // EOS ends a sequence, unkept
  const auto seqs = sequences_of(a, 1);
  ASSERT_GE(seqs.size(), 500u / (ctx + 1));
  size_t full = 0;
  for (const auto& q : seqs) {
    EXPECT_LE(q.size(), static_cast<size_t>(ctx + 1));
    full += q.size() == static_cast<size_t>(ctx + 1);
  }
  EXPECT_GT(full, 0u);
  EXPECT_THROW(sample_teacher_tokens(w, 0, ctx, 5, 1), Error);
  EXPECT_THROW(sample_teacher_tokens(w, kMaxTeacherTokens + 1, ctx, 5, 1), Error);
}

// stories260K's sample reads as (childish) English: letters, spaces and punctuation.
TEST_F(Distill, Stories260KSampleDecodesToText) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  CTSCOPE_REQUIRE_MODEL("tok512.bin");
  const Checkpoint ck = Checkpoint::open(kModels / "stories260K.bin");
  const LlamaWeights w = load_llama_weights(ck);
  const auto ids = sample_teacher_tokens(w, 400, 64, 7, 1);
  const auto tok = load_llama2c_tokenizer(kModels / "tok512.bin", 512);
  std::string text;
  for (size_t i = 1; i < ids.size(); ++i) text += ids[i] == 1 ? std::string("\n") : tok->decode(ids[i - 1], ids[i]);
  size_t plain = 0, words = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto ch = static_cast<unsigned char>(text[i]);
    plain += std::isalpha(ch) || std::isspace(ch) || std::ispunct(ch);
    words += std::isalpha(ch) && (i == 0 || !std::isalpha(static_cast<unsigned char>(text[i - 1])));
  }
  EXPECT_GT(static_cast<double>(plain), 0.97 * static_cast<double>(text.size())) << text;
  EXPECT_GT(words, 60u) << text;  // words, not one long run of letters
  EXPECT_NE(text.find(" the "), std::string::npos) << text;
}

}  // namespace
}  // namespace ctscope::train
