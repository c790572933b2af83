#include "train/teacher_tokens.hpp"

#include <algorithm>
#include <memory>

#include "runtime/generate.hpp"
#include "util/error.hpp"
#include "util/format.hpp"

namespace ctscope::train {

std::vector<int32_t> sample_teacher_tokens(const LlamaWeights& teacher, int64_t n_tokens, int64_t ctx, uint64_t seed,
                                           int32_t bos, const ProgressFn& progress) {
  if (n_tokens < 1 || n_tokens > kMaxTeacherTokens)
    throw Error(fmt::format("teacher:{}: the number of sampled tokens must be in 1 .. {}", n_tokens,
                            kMaxTeacherTokens));
  if (ctx < 1) throw Error(fmt::format("teacher sample: context {} (must be at least 1)", ctx));
  // The model only borrows the weights: a shared_ptr that does not own them.
  LlamaModel model(std::shared_ptr<const LlamaWeights>(&teacher, [](const LlamaWeights*) {}), ctx);
  Sampler sampler(1.0f, 1.0f, seed);  // top-p 1: the whole distribution
  const auto eos = static_cast<int32_t>(teacher.config.eos_id);
  const auto total = static_cast<size_t>(n_tokens);
  std::vector<int32_t> out, seq;
  out.reserve(total);
  while (out.size() < total) {
    model.reset();
    seq.assign(1, bos);
    generate(model, sampler, seq, static_cast<size_t>(ctx) + 1, bos, eos);
    const size_t take = std::min(seq.size(), total - out.size());
    out.insert(out.end(), seq.begin(), seq.begin() + static_cast<std::ptrdiff_t>(take));
    if (progress) progress(out.size(), total, "", 0);
  }
  return out;
}

}  // namespace ctscope::train
