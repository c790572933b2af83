// Perplexity scoring rule (llama.cpp's) against a naive computation in this file,
// with fake logits providers; KL/top-1 against a reference; a real-model check.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <numeric>

#include "runtime/llama_model.hpp"
#include "runtime/llama_weights.hpp"
#include "eval/perplexity.hpp"
#include "text/eval_tokens.hpp"
#include "text/tokenizer.hpp"
#include "io/checkpoint.hpp"
#include "util/error.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace ctscope;

namespace {

constexpr int64_t kV = 5;

// Logits of position p in a chunk depend on the tokens up to p (causal), the
// position and a per-model salt.
std::vector<float> fake_row(std::span<const int32_t> chunk, int64_t p, double salt) {
  std::vector<float> row(kV);
  double h = 0;
  for (int64_t i = 0; i <= p; ++i) h = h * 0.7 + chunk[static_cast<size_t>(i)];
  for (int64_t v = 0; v < kV; ++v)
    row[static_cast<size_t>(v)] = static_cast<float>(3 * std::sin(salt * static_cast<double>(v + 1) + h + 0.1 * static_cast<double>(p)));
  return row;
}

struct FakeModel {
  double salt;
  std::vector<std::vector<int32_t>> seen;
  std::vector<float> buf;
  ChunkLogitsFn fn() {
    return [this](std::span<const int32_t> chunk, int64_t first_row) {
      seen.emplace_back(chunk.begin(), chunk.end());
      buf.clear();
      for (int64_t p = first_row; p < static_cast<int64_t>(chunk.size()); ++p) {
        auto r = fake_row(chunk, p, salt);
        buf.insert(buf.end(), r.begin(), r.end());
      }
      return std::span<const float>(buf);
    };
  }
};

// Naive: probabilities by exp/sum in long double, straight from the rule's text.
std::vector<long double> probs(const std::vector<float>& row) {
  std::vector<long double> p(row.size());
  long double s = 0;
  for (size_t v = 0; v < row.size(); ++v) s += p[v] = std::exp(static_cast<long double>(row[v]));
  for (auto& x : p) x /= s;
  return p;
}

}  // namespace

TEST(Perplexity, MatchesNaiveRule) {
  std::vector<int32_t> tokens(1 + 37);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 7 + 3) % kV);
  tokens[0] = 1;  // BOS
  const int64_t ctx = 10;
  FakeModel m{0.9, {}, {}}, ref{1.3, {}, {}};
  const auto mf = m.fn(), rf = ref.fn();
  std::vector<std::pair<int, int64_t>> progress_calls;
  const auto res = evaluate_perplexity(tokens, ctx, 1, kV, {mf}, &rf,
                                       [&](int model, int64_t c, const ChunkPlan&, double) {
                                         progress_calls.emplace_back(model, c);
                                       });
  // Naive reference computation.
  std::vector<long double> nll, kl;
  int agree = 0;
  const int64_t n_chunk = static_cast<int64_t>(tokens.size()) / ctx;  // 3; 8 tokens dropped
  for (int64_t c = 0; c < n_chunk; ++c) {
    std::vector<int32_t> in(tokens.begin() + c * ctx, tokens.begin() + (c + 1) * ctx);
    in[0] = 1;
    EXPECT_EQ(m.seen.at(static_cast<size_t>(c)), in);
    for (int64_t j = ctx / 2; j <= ctx - 2; ++j) {
      const auto pm = probs(fake_row(in, j, 0.9)), pr = probs(fake_row(in, j, 1.3));
      nll.push_back(-std::log(pm[static_cast<size_t>(tokens[static_cast<size_t>(c * ctx + j + 1)])]));
      long double k = 0;
      for (int64_t v = 0; v < kV; ++v) k += pr[static_cast<size_t>(v)] * std::log(pr[static_cast<size_t>(v)] / pm[static_cast<size_t>(v)]);
      kl.push_back(k);
      agree += std::max_element(pm.begin(), pm.end()) - pm.begin() == std::max_element(pr.begin(), pr.end()) - pr.begin();
    }
  }
  const auto n = static_cast<long double>(nll.size());
  const long double mean = std::accumulate(nll.begin(), nll.end(), 0.0L) / n;
  long double var = 0;
  for (auto x : nll) var += (x - mean) * (x - mean);
  const long double ppl = std::exp(mean), se = ppl * std::sqrt(var / (n - 1)) / std::sqrt(n);
  ASSERT_EQ(res.candidates.size(), 1u);
  const auto& r = res.candidates[0];
  EXPECT_EQ(r.scored_tokens, 3 * 4);
  EXPECT_EQ(r.chunks, 3);
  EXPECT_EQ(r.ctx, 10);
  EXPECT_NEAR(r.ppl, static_cast<double>(ppl), 1e-9 * static_cast<double>(ppl));
  EXPECT_NEAR(r.ppl_stderr, static_cast<double>(se), 1e-9);
  EXPECT_NEAR(*r.kl_mean, static_cast<double>(std::accumulate(kl.begin(), kl.end(), 0.0L) / n), 1e-9);
  std::sort(kl.begin(), kl.end());
  const double pos = 0.99 * static_cast<double>(kl.size() - 1);  // interpolated percentile
  const auto lo = static_cast<size_t>(pos);
  EXPECT_NEAR(*r.kl_p99, static_cast<double>(kl[lo] + (kl[lo + 1] - kl[lo]) * (pos - static_cast<double>(lo))), 1e-9);
  EXPECT_NEAR(*r.top1_agreement, agree / static_cast<double>(n), 1e-12);
  EXPECT_GT(*r.kl_mean, 0.0);
  ASSERT_TRUE(res.reference);
  EXPECT_FALSE(res.reference->kl_mean);
  EXPECT_EQ(progress_calls.size(), 6u);
  EXPECT_EQ(progress_calls[0], (std::pair<int, int64_t>{-1, 0}));
}

TEST(Perplexity, UniformLogitsGiveVocabSize) {
  std::vector<int32_t> tokens(16, 3);
  std::vector<float> buf;
  ChunkLogitsFn uniform = [&](std::span<const int32_t> chunk, int64_t first) {
    buf.assign((chunk.size() - static_cast<size_t>(first)) * kV, 0.25f);
    return std::span<const float>(buf);
  };
  const auto r = evaluate_perplexity(tokens, 8, 1, kV, {uniform, uniform}, &uniform).candidates;
  ASSERT_EQ(r.size(), 2u);
  EXPECT_NEAR(r[0].ppl, 5.0, 1e-12);
  EXPECT_NEAR(r[0].ppl_stderr, 0.0, 1e-12);
  EXPECT_EQ(r[0].scored_tokens, 2 * 3);
  EXPECT_NEAR(*r[1].kl_mean, 0.0, 1e-15);
  EXPECT_EQ(*r[1].top1_agreement, 1.0);
}

TEST(Perplexity, TooFewTokensIsAnError) {
  std::vector<int32_t> tokens(7, 1);
  ChunkLogitsFn never = [](std::span<const int32_t>, int64_t) -> std::span<const float> {
    ADD_FAILURE() << "no chunk should run";
    return {};
  };
  EXPECT_THROW(evaluate_perplexity(tokens, 8, 1, kV, {never}), Error);
  EXPECT_THROW(plan_chunks(100, 2, "x"), Error);
  EXPECT_EQ(plan_chunks(100, 32, "x").n_chunks, 3);
  EXPECT_EQ(plan_chunks(100, 32, "x").first, 16);
}

TEST(Perplexity, RealModelAgainstItself) {
  const fs::path& models = ctscope::test_support::kModels;
  if (!fs::exists(models / "stories260K.bin")) GTEST_SKIP() << "real models not found in " << models;
  auto w = std::make_shared<const LlamaWeights>(load_llama_weights(Checkpoint::open(models / "stories260K.bin")));
  LlamaModel a(w), b(w);
  // The model's own greedy continuation is very likely under it: ppl near 1.
  std::vector<int32_t> ids = {1};
  for (int i = 0; i < 127; ++i) {
    auto l = a.forward(std::span(&ids.back(), 1));
    ids.push_back(static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin()));
  }
  const auto fa = chunk_logits(a), fb = chunk_logits(b);
  const auto res = evaluate_perplexity(ids, 64, 1, 512, {fa}, &fb);
  const auto& r = res.candidates[0];
  EXPECT_EQ(r.scored_tokens, 2 * 31);
  EXPECT_LT(r.ppl, 3.0);
  EXPECT_GE(r.ppl, 1.0);
  EXPECT_NEAR(*r.kl_mean, 0.0, 1e-9);
  EXPECT_EQ(*r.top1_agreement, 1.0);
  EXPECT_NEAR(res.reference->ppl, r.ppl, 1e-9);
}

// The unigram floor, computed here the plain way: the targets of llama.cpp's
// rule listed position by position, their frequencies, the mean of -log p.
TEST(PerplexityFloors, UnigramMatchesAnIndependentComputationAndUniformIsV) {
  std::vector<int32_t> tokens;
  for (int i = 0; i < 53; ++i) tokens.push_back(static_cast<int32_t>((i * i + 3 * i) % 7));  // 53: a remainder is dropped
  const int64_t ctx = 12, V = 11;
  std::vector<int32_t> targets;
  for (int64_t c = 0; c < 53 / ctx; ++c)
    for (int64_t j = ctx / 2; j <= ctx - 2; ++j) targets.push_back(tokens[static_cast<size_t>(c * ctx + j + 1)]);
  double nll = 0;
  for (int32_t t : targets) {
    const auto n = std::count(targets.begin(), targets.end(), t);
    nll -= std::log(static_cast<double>(n) / static_cast<double>(targets.size()));
  }
  const double want = std::exp(nll / static_cast<double>(targets.size()));

  const PerplexityFloors f = perplexity_floors(tokens, ctx, V);
  EXPECT_EQ(f.uniform_ppl, 11.0);  // exactly V, not exp(log V)
  EXPECT_EQ(f.unigram.scored_tokens, static_cast<int64_t>(targets.size()));
  EXPECT_EQ(f.unigram.chunks, 4);
  EXPECT_NEAR(f.unigram.ppl, want, 1e-12 * want);
  EXPECT_LT(f.unigram.ppl, 7.0);  // never above the number of distinct targets
  // evaluate_perplexity carries the same floors.
  std::vector<float> buf;
  ChunkLogitsFn uniform = [&](std::span<const int32_t> chunk, int64_t first) {
    buf.assign((chunk.size() - static_cast<size_t>(first)) * static_cast<size_t>(V), 0.5f);
    return std::span<const float>(buf);
  };
  const auto res = evaluate_perplexity(tokens, ctx, 1, V, {uniform});
  EXPECT_EQ(res.floors.uniform_ppl, 11.0);
  EXPECT_EQ(res.floors.unigram.ppl, f.unigram.ppl);
  EXPECT_NEAR(res.candidates[0].ppl, 11.0, 1e-9);  // uniform logits score the uniform floor
  const auto j = f.to_json();
  EXPECT_EQ(j["uniform_ppl"], 11.0);
  EXPECT_EQ(j["unigram_ppl"], f.unigram.ppl);
}

TEST(PerplexityFloors, VerdictInWords) {
  PerplexityFloors f;
  f.uniform_ppl = 512;
  f.unigram.ppl = 80;
  EXPECT_EQ(floor_verdict(1660, f), "worse than a uniform guess");
  EXPECT_EQ(floor_verdict(174, f), "worse than the text's unigram frequencies");
  EXPECT_EQ(floor_verdict(3.6, f), "");
  EXPECT_EQ(floor_verdict(512, f), "worse than the text's unigram frequencies");  // equal to V is not worse than it
}

TEST(PerplexityNotes, ContextBeyondTrainingAndShortTextAreSaid) {
  EXPECT_TRUE(evaluation_notes(4096, 512, 512).empty());
  auto n = evaluation_notes(4096, 1024, 512);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_NE(n[0].find("trained on only 512 context tokens (--ctx 1024 specified)"), std::string::npos) << n[0];
  n = evaluation_notes(1500, 1024, 512);
  ASSERT_EQ(n.size(), 2u);
  EXPECT_NE(n[1].find("1500 tokens is fewer than 2 x ctx = 2048: llama-perplexity would refuse"), std::string::npos)
      << n[1];
}

// llama-perplexity's -f drops one trailing '\n' (spec "Evaluation"): a file
// with one gives the tokens of the same file without it; with two, only one goes.
TEST(EvalTokens, TextFilesLoseOneTrailingNewline) {
  EXPECT_EQ(without_one_trailing_newline("a b\n"), "a b");
  EXPECT_EQ(without_one_trailing_newline("a b\n\n"), "a b\n");
  EXPECT_EQ(without_one_trailing_newline("a b\r\n"), "a b\r");  // as llama.cpp: only '\n'
  EXPECT_EQ(without_one_trailing_newline("\n"), "");
  EXPECT_EQ(without_one_trailing_newline(""), "");
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  const fs::path& models = ctscope::test_support::kModels;
  const Checkpoint ck = Checkpoint::open(models / "stories260K.bin");
  const std::string tok = (models / "tok512.bin").string();
  const fs::path dir = ctscope::test_support::process_tmp().path;
  const std::string body = "Once upon a time, there was a cat.\nIt sat.";
  auto tokens_of = [&](const std::string& name, const std::string& text) {
    ctscope::test_support::write_bytes(dir / name, text);
    return load_eval_tokens(ck, (dir / name).string(), "", tok).ids;
  };
  const auto none = tokens_of("nl0.txt", body), one = tokens_of("nl1.txt", body + "\n"),
             two = tokens_of("nl2.txt", body + "\n\n");
  EXPECT_EQ(one, none);
  // Two newlines lose one: the tokens of the text with one newline, as the tokenizer makes them.
  const auto tokenizer = open_tokenizer(ck, fs::path(tok));
  EXPECT_EQ(two, tokenizer->encode(body + "\n", /*add_bos=*/true));
  EXPECT_NE(two, none);
  EXPECT_EQ(none, tokenizer->encode(body, /*add_bos=*/true));
}
