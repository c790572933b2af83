// Perplexity by llama.cpp's rule (spec "Evaluation (perplexity), exactly"), and the
// comparison of candidate models with a reference (KL divergence, top-1 agreement).
// Models are seen only through a chunk -> logits function, so the scoring rule is
// testable with fake logits and one reference pass serves many candidates.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ctscope {

class LlamaModel;

// Logits of one chunk run from position 0, rows first_row .. chunk.size()-1:
// [chunk.size() - first_row, vocab]. The span must stay valid until the next call.
using ChunkLogitsFn = std::function<std::span<const float>(std::span<const int32_t> chunk, int64_t first_row)>;

// A LlamaModel as a ChunkLogitsFn (reset, one batched forward per chunk).
ChunkLogitsFn chunk_logits(LlamaModel& model);

struct ChunkPlan {
  int64_t ctx = 0, n_chunks = 0, first = 0;  // score positions first .. ctx-2 of each chunk
  int64_t scored_per_chunk() const { return ctx - 1 - first; }
};
// n_chunk = floor(n_tokens / ctx); Error naming `where` if that is 0 or ctx < 4.
ChunkPlan plan_chunks(int64_t n_tokens, int64_t ctx, const std::string& where);

struct EvalResult {
  double ppl = 0, ppl_stderr = 0;
  int64_t scored_tokens = 0, chunks = 0, ctx = 0;
  // Against a reference: mean and 99th percentile (linear interpolation) of
  // KL(P_ref || P_model) per scored position, and the fraction with equal argmax.
  std::optional<double> kl_mean, kl_p99, top1_agreement;
  nlohmann::json to_json() const;
};

// Running sums for one model.
class NllAccumulator {
 public:
  void add(double nll) { nll_.push_back(nll); }
  void add_kl(double kl, bool same_top1) {
    kl_.push_back(kl);
    top1_ += same_top1 ? 1 : 0;
  }
  int64_t count() const { return static_cast<int64_t>(nll_.size()); }
  double ppl() const;
  // Delta method: ppl * sd(NLL) / sqrt(count), with the sample sd (as llama.cpp).
  double ppl_stderr() const;
  EvalResult result(const ChunkPlan& plan) const;

 private:
  std::vector<double> nll_, kl_;
  int64_t top1_ = 0;
};

// Progress after each chunk of each model: model index (-1: the reference),
// chunk index (0-based), the plan, and the running perplexity.
using ChunkProgressFn = std::function<void(int model, int64_t chunk, const ChunkPlan&, double running_ppl)>;

// The floors every perplexity is read against: a model worse than them has
// learned less than nothing about the text.
struct PerplexityFloors {
  int64_t vocab = 0;
  double uniform_ppl = 0;  // a uniform guess over the vocabulary: exactly V
  // The unigram distribution of the text, scored by the same rule: p(t) =
  // frequency of t among the scored target tokens (the same chunks and
  // positions as the models). Fitted on exactly what it scores, it is the
  // lowest perplexity any context-free predictor reaches there.
  EvalResult unigram;
  nlohmann::json to_json() const;
};
PerplexityFloors perplexity_floors(std::span<const int32_t> tokens, int64_t ctx, int64_t vocab,
                                   const std::string& where = "text");

// A perplexity against the floors, in words: "worse than a uniform guess" above
// V, "worse than the text's unigram frequencies" above the unigram's (which is
// never above V), "" when it beats both.
std::string floor_verdict(double ppl, const PerplexityFloors& f);

// Sentences a reader of the numbers must see (spec "Evaluation"): a ctx beyond
// the context the model was trained for (llama.cpp warns and runs past it, and
// so does ctscope), and a text of fewer than 2 * ctx tokens, which
// llama-perplexity refuses. Empty when neither applies.
std::vector<std::string> evaluation_notes(int64_t n_tokens, int64_t ctx, int64_t model_context);

struct ComparisonResult {
  std::vector<EvalResult> candidates;
  std::optional<EvalResult> reference;  // the reference's own perplexity
  PerplexityFloors floors;
};

// Tokenized text (BOS first) -> perplexity of each candidate, and with a reference
// the KL/top-1 statistics against it. Chunk by chunk: the reference's log-probs
// are computed once per chunk and every candidate is scored against them.
ComparisonResult evaluate_perplexity(std::span<const int32_t> tokens, int64_t ctx, int32_t bos, int64_t vocab,
                                     const std::vector<ChunkLogitsFn>& candidates,
                                     const ChunkLogitsFn* reference = nullptr, const ChunkProgressFn& progress = {},
                                     const std::string& where = "text");

}  // namespace ctscope
