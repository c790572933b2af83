#include "eval/perplexity.hpp"

#include <algorithm>
#include <cmath>

#include "runtime/llama_model.hpp"
#include "util/error.hpp"
#include "util/format.hpp"

namespace ctscope {
namespace {

// log-softmax of one row in double; returns the argmax.
int32_t log_softmax(const float* x, int64_t n, double* out) {
  const float* mx = std::max_element(x, x + n);
  double sum = 0;
  for (int64_t v = 0; v < n; ++v) sum += std::exp(static_cast<double>(x[v]) - *mx);
  const double lse = *mx + std::log(sum);
  for (int64_t v = 0; v < n; ++v) out[v] = static_cast<double>(x[v]) - lse;
  return static_cast<int32_t>(mx - x);
}

double percentile(std::vector<double> v, double fraction) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double p = fraction * static_cast<double>(v.size() - 1);
  const auto i = static_cast<size_t>(p);
  const double f = p - static_cast<double>(i);
  return (1 - f) * v[i] + f * v[std::min(i + 1, v.size() - 1)];
}

}  // namespace

ChunkLogitsFn chunk_logits(LlamaModel& model) {
  return [&model](std::span<const int32_t> chunk, int64_t first_row) {
    model.reset();
    return model.forward_rows(chunk, first_row);
  };
}

ChunkPlan plan_chunks(int64_t n_tokens, int64_t ctx, const std::string& where) {
  if (ctx < 4) fail(where, "context {} is too small (need at least 4)", ctx);
  ChunkPlan p{ctx, n_tokens / ctx, ctx / 2};
  if (p.n_chunks == 0) fail(where, "{} tokens is fewer than one context of {}", n_tokens, ctx);
  return p;
}

double NllAccumulator::ppl() const {
  double s = 0;
  for (double x : nll_) s += x;
  return std::exp(s / static_cast<double>(nll_.size()));
}

double NllAccumulator::ppl_stderr() const {
  const auto n = static_cast<double>(nll_.size());
  if (nll_.size() < 2) return 0;
  double mean = 0;
  for (double x : nll_) mean += x;
  mean /= n;
  double ss = 0;
  for (double x : nll_) ss += (x - mean) * (x - mean);
  return ppl() * std::sqrt(ss / (n - 1)) / std::sqrt(n);
}

EvalResult NllAccumulator::result(const ChunkPlan& plan) const {
  EvalResult r;
  r.ppl = ppl();
  r.ppl_stderr = ppl_stderr();
  r.scored_tokens = count();
  r.chunks = plan.n_chunks;
  r.ctx = plan.ctx;
  if (!kl_.empty()) {
    double s = 0;
    for (double k : kl_) s += k;
    r.kl_mean = s / static_cast<double>(kl_.size());
    r.kl_p99 = percentile(kl_, 0.99);
    r.top1_agreement = static_cast<double>(top1_) / static_cast<double>(kl_.size());
  }
  return r;
}

nlohmann::json EvalResult::to_json() const {
  nlohmann::json j = {{"ppl", ppl}, {"ppl_stderr", ppl_stderr}, {"scored_tokens", scored_tokens},
                      {"chunks", chunks}, {"ctx", ctx}};
  if (kl_mean) j["kl_mean"] = *kl_mean;
  if (kl_p99) j["kl_p99"] = *kl_p99;
  if (top1_agreement) j["top1_agreement"] = *top1_agreement;
  return j;
}

nlohmann::json PerplexityFloors::to_json() const {
  return {{"uniform_ppl", uniform_ppl},
          {"unigram_ppl", unigram.ppl},
          {"unigram_ppl_stderr", unigram.ppl_stderr},
          {"unigram_from", "frequencies of the scored target tokens"}};
}

PerplexityFloors perplexity_floors(std::span<const int32_t> tokens, int64_t ctx, int64_t vocab,
                                   const std::string& where) {
  const ChunkPlan plan = plan_chunks(static_cast<int64_t>(tokens.size()), ctx, where);
  // The targets the models are scored on: token i*ctx + j + 1 for j = first .. ctx-2.
  std::vector<int32_t> targets;
  for (int64_t c = 0; c < plan.n_chunks; ++c)
    for (int64_t j = plan.first; j <= ctx - 2; ++j) targets.push_back(tokens[static_cast<size_t>(c * ctx + j + 1)]);
  std::vector<int64_t> count(static_cast<size_t>(vocab), 0);
  for (int32_t t : targets) {
    if (t < 0 || t >= vocab) fail(where, "token id {} is outside the vocabulary of {}", t, vocab);
    ++count[static_cast<size_t>(t)];
  }
  NllAccumulator acc;
  const auto n = static_cast<double>(targets.size());
  for (int32_t t : targets) acc.add(-std::log(static_cast<double>(count[static_cast<size_t>(t)]) / n));
  PerplexityFloors f;
  f.vocab = vocab;
  f.uniform_ppl = static_cast<double>(vocab);  // exp(log V) would round; the floor is V by definition
  f.unigram = acc.result(plan);
  return f;
}

std::string floor_verdict(double ppl, const PerplexityFloors& f) {
  if (ppl > f.uniform_ppl) return "worse than a uniform guess";
  if (ppl > f.unigram.ppl) return "worse than the text's unigram frequencies";
  return "";
}

std::vector<std::string> evaluation_notes(int64_t n_tokens, int64_t ctx, int64_t model_context) {
  std::vector<std::string> notes;
  if (model_context > 0 && ctx > model_context)
    notes.push_back(fmt::format(
        "warning: the model was trained on only {} context tokens (--ctx {} specified): positions past {} are "
        "extrapolated, as llama.cpp does after the same warning",
        model_context, ctx, model_context));
  if (n_tokens < 2 * ctx)
    notes.push_back(fmt::format("note: {} is fewer than 2 x ctx = {}: llama-perplexity would refuse this text",
                                plural(n_tokens, "token"), 2 * ctx));
  return notes;
}

ComparisonResult evaluate_perplexity(std::span<const int32_t> tokens, int64_t ctx, int32_t bos, int64_t vocab,
                                     const std::vector<ChunkLogitsFn>& candidates, const ChunkLogitsFn* reference,
                                     const ChunkProgressFn& progress, const std::string& where) {
  const ChunkPlan plan = plan_chunks(static_cast<int64_t>(tokens.size()), ctx, where);
  const int64_t S = plan.scored_per_chunk(), rows = ctx - plan.first;
  const auto V = static_cast<size_t>(vocab);
  std::vector<NllAccumulator> acc(candidates.size());
  NllAccumulator ref_acc;
  std::vector<double> ref_logp(reference ? static_cast<size_t>(S) * V : 0), logp(V);
  std::vector<int32_t> ref_top(static_cast<size_t>(S));
  std::vector<int32_t> input(static_cast<size_t>(ctx));
  auto checked = [&](std::span<const float> logits, const char* who) {
    if (logits.size() != static_cast<size_t>(rows) * V)
      throw Error(fmt::format("{}: {} logits for a chunk, expected {} x {}", who, logits.size(), rows, vocab));
    return logits;
  };
  for (int64_t c = 0; c < plan.n_chunks; ++c) {
    const int32_t* chunk = tokens.data() + c * ctx;
    std::copy_n(chunk, ctx, input.begin());
    input[0] = bos;
    auto target = [&](int64_t j) { return static_cast<size_t>(chunk[plan.first + j + 1]); };
    if (reference) {
      const auto logits = checked((*reference)(input, plan.first), "reference");
      for (int64_t j = 0; j < S; ++j) {
        double* lp = ref_logp.data() + static_cast<size_t>(j) * V;
        ref_top[static_cast<size_t>(j)] = log_softmax(logits.data() + static_cast<size_t>(j) * V, vocab, lp);
        ref_acc.add(-lp[target(j)]);
      }
      if (progress) progress(-1, c, plan, ref_acc.ppl());
    }
    for (size_t m = 0; m < candidates.size(); ++m) {
      const auto logits = checked(candidates[m](input, plan.first), "model");
      for (int64_t j = 0; j < S; ++j) {
        const int32_t top = log_softmax(logits.data() + static_cast<size_t>(j) * V, vocab, logp.data());
        acc[m].add(-logp[target(j)]);
        if (reference) {
          const double* lr = ref_logp.data() + static_cast<size_t>(j) * V;
          double kl = 0;
          for (size_t v = 0; v < V; ++v) kl += std::exp(lr[v]) * (lr[v] - logp[v]);
          acc[m].add_kl(kl, top == ref_top[static_cast<size_t>(j)]);
        }
      }
      if (progress) progress(static_cast<int>(m), c, plan, acc[m].ppl());
    }
  }
  ComparisonResult out;
  for (const auto& a : acc) out.candidates.push_back(a.result(plan));
  if (reference) out.reference = ref_acc.result(plan);
  out.floors = perplexity_floors(tokens, ctx, vocab, where);
  return out;
}

}  // namespace ctscope
