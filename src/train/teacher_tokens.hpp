// Training text without a corpus (`--train teacher:N`): tokens sampled from
// the teacher itself, so distillation needs no data the user may not have.
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/llama_weights.hpp"
#include "util/progress.hpp"

namespace ctscope::train {

// The most tokens a teacher sample may ask for: 1e9 int32 ids are 4 GB, and
// sampling them one token at a time would take days on models ctscope trains.
inline constexpr int64_t kMaxTeacherTokens = 1'000'000'000;

// n_tokens ids: sequences that start with `bos`, each sampled at temperature 1
// (the runtime's Sampler over the whole distribution, seeded once with `seed`)
// until it holds ctx + 1 tokens or the teacher emits BOS or its EOS
// (config.eos_id; not kept), then the next sequence starts; the last is cut at
// n_tokens. The same teacher, arguments and BLAS thread count give the same
// ids. progress(done, n_tokens, "", 0) after each sequence. Error when n_tokens
// is not in [1, kMaxTeacherTokens] or ctx < 1.
std::vector<int32_t> sample_teacher_tokens(const LlamaWeights& teacher, int64_t n_tokens, int64_t ctx, uint64_t seed,
                                           int32_t bos, const ProgressFn& progress = {});

}  // namespace ctscope::train
