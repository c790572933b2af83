#include "eval/perplexity.hpp"

#include <algorithm>
#include <cmath>

#include "runtime/llama_model.hpp"
#include "util/error.hpp"

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
  return out;
}

}  // namespace ctscope
