#include "model/rope_permute.hpp"

#include <cstring>

namespace ctscope {

namespace {
// HF row index for Meta row (h, 2i + j).
int64_t hf_row(int64_t h, int64_t meta_in_head, int64_t head_dim) {
  const int64_t i = meta_in_head / 2, j = meta_in_head % 2;
  return h * head_dim + j * (head_dim / 2) + i;
}

}  // namespace

std::vector<uint8_t> permute_meta_to_hf(const uint8_t* w, int64_t n_heads, int64_t head_dim, int64_t cols,
                                        int64_t elem_bytes) {
  const auto row_bytes = static_cast<size_t>(cols * elem_bytes);
  std::vector<uint8_t> out(static_cast<size_t>(n_heads * head_dim) * row_bytes);
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t r = 0; r < head_dim; ++r)
      std::memcpy(out.data() + static_cast<size_t>(hf_row(h, r, head_dim)) * row_bytes,
                  w + static_cast<size_t>(h * head_dim + r) * row_bytes, row_bytes);
  return out;
}

void permute_hf_to_meta(uint8_t* w, int64_t n_heads, int64_t head_dim, int64_t cols, int64_t elem_bytes) {
  const auto row_bytes = static_cast<size_t>(cols * elem_bytes);
  std::vector<uint8_t> head(static_cast<size_t>(head_dim) * row_bytes);
  for (int64_t h = 0; h < n_heads; ++h) {
    uint8_t* base = w + static_cast<size_t>(h * head_dim) * row_bytes;
    std::memcpy(head.data(), base, head.size());
    for (int64_t r = 0; r < head_dim; ++r)
      std::memcpy(base + static_cast<size_t>(r) * row_bytes,
                  head.data() + static_cast<size_t>(hf_row(0, r, head_dim)) * row_bytes, row_bytes);
  }
}

}  // namespace ctscope
