#include "io/gguf_llama.hpp"

#include "util/error.hpp"

namespace ctscope {

namespace {

// llama_ftype (llama.h) for a file whose matrices are all of one type; Q4_K
// throughout is closest to Q4_K_S (14), which keeps a few tensors larger.
uint32_t llama_file_type(DType quant) {
  switch (quant) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q4_0: return 2;
    case DType::Q8_0: return 7;
    case DType::Q4_K: return 14;
    case DType::BF16: return 32;
    default: throw Error(fmt::format("--quant: GGUF files hold f32, f16, bf16, q8_0, q4_0 or q4_k, not {}",
                                     dtype_name(quant)));
  }
}

}  // namespace

void check_gguf_quant(DType quant) { (void)llama_file_type(quant); }

std::vector<GgufKeyValue> gguf_llama_metadata(const ModelConfig& c, DType quant, const std::string& name) {
  auto u32 = [](int64_t v) { return GgufValue::u32(static_cast<uint32_t>(v)); };
  std::vector<GgufKeyValue> m{
      {"general.architecture", GgufValue::str("llama")},
      {"general.name", GgufValue::str(name)},
      {"general.file_type", GgufValue::u32(llama_file_type(quant))},
      {"llama.vocab_size", u32(c.vocab_size)},
      {"llama.context_length", u32(c.max_seq_len)},
      {"llama.embedding_length", u32(c.dim)},
      {"llama.block_count", u32(c.n_layers)},
      {"llama.feed_forward_length", u32(c.hidden_dim)},
      {"llama.rope.dimension_count", u32(c.head_dim())},
      {"llama.attention.head_count", u32(c.n_heads)},
      {"llama.attention.head_count_kv", u32(c.n_kv_heads)},
      {"llama.attention.layer_norm_rms_epsilon", GgufValue::f32(static_cast<float>(c.norm_eps))},
      {"llama.rope.freq_base", GgufValue::f32(static_cast<float>(c.rope_theta))},
  };
  if (traits(quant).block_elems > 1) m.push_back({"general.quantization_version", GgufValue::u32(2)});
  return m;
}

DType gguf_tensor_type(DType quant, const std::vector<int64_t>& shape) {
  if (shape.size() < 2) return DType::F32;
  const int64_t row = shape.back();
  DType t = quant;
  if (t == DType::Q4_K && row % 256 != 0) t = DType::Q4_0;
  if (row % traits(t).block_elems != 0) t = DType::F16;
  return t;
}

}  // namespace ctscope
