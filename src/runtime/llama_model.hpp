// Runs a Llama model: token embedding, per block RMSNorm -> GQA attention with
// rotary embeddings and a KV cache -> residual, RMSNorm -> SwiGLU MLP -> residual;
// final norm and classifier. Float32. A call with T tokens does each projection
// as one SGEMM; a single token uses sgemv.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "runtime/llama_weights.hpp"

namespace ctscope {

class LlamaModel {
 public:
  // The KV cache holds `max_positions` positions (0: context_of(config)).
  explicit LlamaModel(std::shared_ptr<const LlamaWeights> weights, int64_t max_positions = 0);
  // The positions a model of config c can run: max_seq_len, within a sliding window if it has one.
  static int64_t context_of(const ModelConfig& c);

  const ModelConfig& config() const { return w_->config; }
  const LlamaWeights& weights() const { return *w_; }
  int64_t position() const { return pos_; }
  int64_t max_positions() const { return max_pos_; }
  void reset() { pos_ = 0; }

  // Runs `tokens` at positions position() .. position()+T-1 and appends them to
  // the cache. Returns the logits of every token ([T, vocab]) if all_logits,
  // else of the last one ([vocab]). The span lives until the next call.
  // Error if a token id is out of range or the cache would overflow.
  std::span<const float> forward(std::span<const int32_t> tokens, bool all_logits = false) {
    return forward_rows(tokens, all_logits ? 0 : static_cast<int64_t>(tokens.size()) - 1);
  }
  // Same, with the logits of tokens first_row .. T-1 ([T - first_row, vocab]):
  // perplexity scores only the second half of a chunk.
  std::span<const float> forward_rows(std::span<const int32_t> tokens, int64_t first_row);

 private:
  std::shared_ptr<const LlamaWeights> w_;
  int64_t max_pos_ = 0, pos_ = 0;
  std::vector<float> k_cache_, v_cache_;  // [layer][position][kv_dim]
  std::vector<float> x_, xb_, q_, att_, hb_, hb2_, logits_;
};

}  // namespace ctscope
