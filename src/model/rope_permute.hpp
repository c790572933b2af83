// q/k row order between the two RoPE layouts. Meta/llama2.c/GGUF rotate pairs
// of adjacent rows (2i, 2i+1) within each head; Hugging Face checkpoints permute
// the rows of q_proj and k_proj (convert_llama_weights_to_hf.py, permute()) so
// that rotation pairs are (i, i + head_dim/2):
//   HF row  h*hd + j*(hd/2) + i  =  Meta row  h*hd + 2i + j    (j in {0,1}, i < hd/2)
#pragma once
#include <cstdint>
#include <vector>

namespace ctscope {

// rows = n_heads * head_dim; each row has `cols` elements of `elem_bytes` bytes.
std::vector<uint8_t> permute_meta_to_hf(const uint8_t* w, int64_t n_heads, int64_t head_dim, int64_t cols,
                                        int64_t elem_bytes);
// The inverse (llama.cpp's converter writing GGUF from a Hugging Face checkpoint), in place.
void permute_hf_to_meta(uint8_t* w, int64_t n_heads, int64_t head_dim, int64_t cols, int64_t elem_bytes);

}  // namespace ctscope
