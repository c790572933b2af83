#include "model/config.hpp"

#include <utility>

#include "util/error.hpp"
#include "util/resource_limits.hpp"

namespace ctscope {

nlohmann::json to_hf_config(const ModelConfig& c, const std::string& torch_dtype) {
  nlohmann::json j = c.hf_config.is_object() ? c.hf_config : nlohmann::json::object();
  j["architectures"] = {"LlamaForCausalLM"};
  j["model_type"] = "llama";
  j["hidden_size"] = c.dim;
  j["intermediate_size"] = c.hidden_dim;
  j["num_hidden_layers"] = c.n_layers;
  j["num_attention_heads"] = c.n_heads;
  j["num_key_value_heads"] = c.n_kv_heads;
  j["vocab_size"] = c.vocab_size;
  j["max_position_embeddings"] = c.max_seq_len;
  j["rms_norm_eps"] = c.norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["tie_word_embeddings"] = c.tie_embeddings;
  j["hidden_act"] = "silu";
  j["bos_token_id"] = c.bos_id;
  j["eos_token_id"] = c.eos_id;
  j["torch_dtype"] = torch_dtype;
  return j;
}

ModelConfig from_hf_config(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "config is not a JSON object");
  ModelConfig c;
  std::string arch = "llama";
  if (auto it = j.find("model_type"); it != j.end()) {
    if (!it->is_string()) fail(where, "'model_type' must be a string, e.g. \"llama\"");
    arch = it->get<std::string>();
  }
  if (arch != "llama" && arch != "mistral") fail(where, "unsupported model_type '{}' (only Llama-family models)", arch);
  c.architecture = arch;
  auto need = [&](const char* key) -> int64_t {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() <= 0)
      fail(where, "missing or invalid '{}'", key);
    return it->get<int64_t>();
  };
  c.dim = need("hidden_size");
  c.hidden_dim = need("intermediate_size");
  c.n_layers = need("num_hidden_layers");
  c.n_heads = need("num_attention_heads");
  c.n_kv_heads = j.contains("num_key_value_heads") ? need("num_key_value_heads") : c.n_heads;
  c.vocab_size = need("vocab_size");
  // Tensor shapes (each dimension, checked against the tensors later) and the
  // vocabulary; the context length sizes nothing until a run asks for positions.
  const std::pair<const char*, int64_t> dims[] = {{"hidden_size", c.dim},
                                                  {"intermediate_size", c.hidden_dim},
                                                  {"num_hidden_layers", c.n_layers},
                                                  {"num_attention_heads", c.n_heads},
                                                  {"num_key_value_heads", c.n_kv_heads}};
  for (const auto& [key, v] : dims) limits::check(where, key, static_cast<uint64_t>(v), limits::kMaxDim, "one dimension");
  limits::check(where, "vocab_size", static_cast<uint64_t>(c.vocab_size), limits::kMaxVocab, "token ids index tables");
  if (j.contains("max_position_embeddings")) c.max_seq_len = need("max_position_embeddings");
  if (auto it = j.find("rms_norm_eps"); it != j.end() && it->is_number()) c.norm_eps = it->get<double>();
  if (auto it = j.find("rope_theta"); it != j.end() && it->is_number()) c.rope_theta = it->get<double>();
  if (auto it = j.find("tie_word_embeddings"); it != j.end() && it->is_boolean()) c.tie_embeddings = it->get<bool>();
  // A token id must name a token (0 .. vocab_size - 1); a list (Llama 3's eos) keeps the default.
  auto token_id = [&](const char* key, int64_t& id) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) return;
    if (!it->is_number_unsigned() || it->get<uint64_t>() >= static_cast<uint64_t>(c.vocab_size))
      fail(where, "'{}' {} is outside the vocabulary (0 .. {})", key, it->dump(), c.vocab_size - 1);
    id = it->get<int64_t>();
  };
  token_id("bos_token_id", c.bos_id);
  token_id("eos_token_id", c.eos_id);
  if (c.dim % c.n_heads != 0) fail(where, "hidden_size {} is not a multiple of num_attention_heads {}", c.dim, c.n_heads);
  if (c.n_heads % c.n_kv_heads != 0) fail(where, "num_attention_heads {} is not a multiple of num_key_value_heads {}", c.n_heads, c.n_kv_heads);
  c.rope = RopeLayout::HalfSplit;
  c.hf_config = j;
  return c;
}

}  // namespace ctscope
