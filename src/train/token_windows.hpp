// The training data of a run: a token stream cut into windows of T inputs
// and their T next-token targets (window w: inputs tokens[wT .. wT+T-1],
// targets tokens[wT+1 .. wT+T]), visited epoch after epoch, each epoch in an
// order shuffled by (seed, epoch). Batch i is a pure function of (tokens, T,
// seed, B, i): the data position of a run is the batch index, so a resumed
// run continues with exactly the batches an uninterrupted one would see.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "train/train_step.hpp"

namespace ctscope::train {

class TokenWindows {
 public:
  // Error naming `where` when the stream holds fewer than T + 1 tokens.
  TokenWindows(std::vector<int32_t> tokens, int64_t T, uint64_t seed, const std::string& where);

  int64_t windows() const { return n_; }
  int64_t window_length() const { return T_; }
  // The index-th batch of B windows, [B*T] inputs and targets.
  TokenBatch batch(int64_t index, int64_t B) const;

 private:
  // The window at position p of the concatenated epochs.
  int64_t window_at(int64_t p) const;

  std::vector<int32_t> tokens_;
  int64_t T_, n_;
  uint64_t seed_;
  mutable int64_t epoch_ = -1;           // the epoch order_ holds
  mutable std::vector<int64_t> order_;
};

}  // namespace ctscope::train
