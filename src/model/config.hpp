// Llama-family hyperparameters, filled by every reader from its own source
// (config.json, GGUF llama.* keys, the llama2.c header).
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace ctscope {

// How rotary embeddings pair the dimensions of a head. It follows from the file
// format (and how q/k rows were permuted), never guessed from the weights.
enum class RopeLayout {
  Interleaved,  // pairs (2i, 2i+1): Meta, llama2.c, GGUF
  HalfSplit,    // pairs (i, i + head_dim/2): Hugging Face
};

struct ModelConfig {
  std::string architecture = "llama";
  int64_t dim = 0;          // hidden_size
  int64_t hidden_dim = 0;   // intermediate_size
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t vocab_size = 0;
  int64_t max_seq_len = 2048;
  double norm_eps = 1e-5;
  double rope_theta = 10000.0;
  bool tie_embeddings = false;
  RopeLayout rope = RopeLayout::HalfSplit;
  int64_t bos_id = 1, eos_id = 2;
  nlohmann::json hf_config;  // the original config.json when there was one (kept for reconstruct)

  int64_t head_dim() const { return n_heads ? dim / n_heads : 0; }
};

// The Hugging Face config.json for `c` (used by synth and reconstruct).
nlohmann::json to_hf_config(const ModelConfig& c, const std::string& torch_dtype);
// Parse a Hugging Face config.json object; `where` names the file in errors.
ModelConfig from_hf_config(const nlohmann::json& j, const std::string& where);

}  // namespace ctscope
