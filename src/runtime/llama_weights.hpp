// A Llama model's weights as float32, loaded once. Filled from a Checkpoint, or
// from any caller-supplied source of (layer, role) -> values (e.g. weights
// reconstructed from a compressed checkpoint), plus the ModelConfig.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/config.hpp"
#include "model/roles.hpp"

namespace ctscope {

struct Checkpoint;

struct LlamaLayerWeights {
  std::vector<float> attn_norm, ffn_norm;  // [dim]
  std::vector<float> wq, wo;               // [dim, dim]
  std::vector<float> wk, wv;               // [kv_dim, dim]
  std::vector<float> w_gate, w_up;         // [hidden, dim]
  std::vector<float> w_down;               // [dim, hidden]
};

struct LlamaWeights {
  ModelConfig config;
  std::vector<float> embed;       // [vocab, dim]
  std::vector<LlamaLayerWeights> layers;
  std::vector<float> final_norm;  // [dim]
  std::vector<float> lm_head;     // [vocab, dim]; empty when tied to embed

  const std::vector<float>& classifier() const { return lm_head.empty() ? embed : lm_head; }
  // Parameters of the per-token matmuls (7 per layer + classifier): 2x this is FLOPs per token.
  uint64_t matmul_params() const;
};

// Values of the tensor (layer, role), row-major [out, in] for matrices; layer is
// -1 for EmbedTokens, Norm and LmHead. An empty vector for LmHead means tied.
using WeightSource = std::function<std::vector<float>(int layer, Role role)>;

// Error naming `where` for configs we cannot run (architecture other than llama,
// zero or inconsistent sizes).
void validate_llama_config(const ModelConfig& c, const std::string& where);

LlamaWeights load_llama_weights(const ModelConfig& config, const WeightSource& source, const std::string& where);
// From a checkpoint: shapes are checked; a missing or aliased lm_head means tied.
LlamaWeights load_llama_weights(const Checkpoint& ck);

}  // namespace ctscope
