#include "train/token_windows.hpp"

#include <numeric>

#include "util/error.hpp"
#include "util/normal_rng.hpp"

namespace ctscope::train {

TokenWindows::TokenWindows(std::vector<int32_t> tokens, int64_t T, uint64_t seed, const std::string& where)
    : tokens_(std::move(tokens)), T_(T), n_(T > 0 ? (static_cast<int64_t>(tokens_.size()) - 1) / T : 0), seed_(seed) {
  if (T <= 0 || n_ <= 0)
    fail(where, "{} tokens is fewer than one training window of {} tokens and its next token", tokens_.size(), T);
}

int64_t TokenWindows::window_at(int64_t p) const {
  const int64_t epoch = p / n_;
  if (epoch != epoch_) {
    // Fisher-Yates with NormalRng's raw bits (the same order from every standard library).
    order_.resize(static_cast<size_t>(n_));
    std::iota(order_.begin(), order_.end(), int64_t{0});
    NormalRng rng(seed_ ^ (0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(epoch + 1)));
    for (int64_t i = n_ - 1; i > 0; --i)
      std::swap(order_[static_cast<size_t>(i)], order_[rng.bits() % static_cast<uint64_t>(i + 1)]);
    epoch_ = epoch;
  }
  return order_[static_cast<size_t>(p % n_)];
}

TokenBatch TokenWindows::batch(int64_t index, int64_t B) const {
  TokenBatch b;
  b.inputs.reserve(static_cast<size_t>(B * T_));
  b.targets.reserve(static_cast<size_t>(B * T_));
  for (int64_t s = 0; s < B; ++s) {
    const auto start = tokens_.begin() + window_at(index * B + s) * T_;
    b.inputs.insert(b.inputs.end(), start, start + T_);
    b.targets.insert(b.targets.end(), start + 1, start + T_ + 1);
  }
  return b;
}

}  // namespace ctscope::train
