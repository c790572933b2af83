// How a Llama model is laid out in a GGUF file the way llama.cpp's converter
// (convert_hf_to_gguf.py) and quantizer (llama-quantize) lay it out: the
// llama.* hyperparameter keys, general.file_type, and the type each tensor is
// stored as.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/gguf_writer.hpp"
#include "model/config.hpp"

namespace ctscope {

// general.architecture/name/file_type(/quantization_version) and the llama.*
// keys llama.cpp reads (context_length, embedding_length, block_count,
// feed_forward_length, rope.dimension_count, attention.head_count(_kv),
// attention.layer_norm_rms_epsilon, rope.freq_base, vocab_size).
// `quant` is the type asked for (F32, F16, BF16, Q8_0, Q4_0, Q4_K).
std::vector<GgufKeyValue> gguf_llama_metadata(const ModelConfig& c, DType quant, const std::string& name);

// The type one tensor is stored as when `quant` is asked for: 1-D tensors
// (norm gains) stay F32, as in llama.cpp; a matrix whose row length is not a
// whole number of the type's blocks falls back - Q4_K to Q4_0 (llama.cpp takes
// Q5_0 here, which ctscope does not read), then Q8_0/Q4_0 to F16 - as
// llama-quantize does.
DType gguf_tensor_type(DType quant, const std::vector<int64_t>& shape);

// Whether `quant` can be asked for (the types above); the error names them.
void check_gguf_quant(DType quant);

}  // namespace ctscope
