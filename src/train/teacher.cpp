#include "train/teacher.hpp"

#include <algorithm>
#include <cmath>

#include "util/error.hpp"
#include "util/resource_limits.hpp"

namespace ctscope::train {

namespace {
std::shared_ptr<const LlamaWeights> checked(std::shared_ptr<const LlamaWeights> w, int64_t student_vocab,
                                            double weight, const std::string& where) {
  if (w->config.vocab_size != student_vocab)
    fail(where, "the teacher's vocabulary has {} tokens, the student's {}: distillation compares the two "
                "distributions token by token",
         w->config.vocab_size, student_vocab);
  if (!std::isfinite(weight) || weight < 0) fail(where, "distillation weight {} (must be finite and >= 0)", weight);
  return w;
}

size_t logits_size(int64_t B, int64_t T, int64_t vocab) {
  if (B <= 0 || T <= 0) throw Error(fmt::format("teacher for batches of {} x {} tokens", B, T));
  const auto n = static_cast<uint64_t>(B) * static_cast<uint64_t>(T) * static_cast<uint64_t>(vocab);
  limits::check_allocation("", fmt::format("the teacher's logits for {} x {} tokens", B, T), n * sizeof(float));
  return static_cast<size_t>(n);
}
}  // namespace

Teacher::Teacher(std::shared_ptr<const LlamaWeights> weights, int64_t student_vocab, int64_t B, int64_t T,
                 double weight, const std::string& where)
    : model_(checked(std::move(weights), student_vocab, weight, where), T), B_(B), T_(T), weight_(weight),
      logits_(logits_size(B, T, student_vocab)) {}

Distillation<float> Teacher::operator()(std::span<const int32_t> inputs) {
  if (static_cast<int64_t>(inputs.size()) != B_ * T_)
    throw Error(fmt::format("teacher: {} inputs for batches of {} x {}", inputs.size(), B_, T_));
  const auto row = static_cast<size_t>(T_ * model_.config().vocab_size);
  for (int64_t b = 0; b < B_; ++b) {
    model_.reset();
    const auto logits = model_.forward(inputs.subspan(static_cast<size_t>(b * T_), static_cast<size_t>(T_)), true);
    std::copy(logits.begin(), logits.end(), logits_.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(b) * row));
  }
  return {logits_, weight_};
}

uint64_t Teacher::bytes() const {
  const auto& c = model_.config();
  const auto cache = static_cast<uint64_t>(2 * c.n_layers * model_.max_positions() * c.n_kv_heads * c.head_dim());
  return (logits_.size() + cache) * sizeof(float);
}

}  // namespace ctscope::train
