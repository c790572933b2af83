// An 8-bit per-row absmax quantization: the familiar reference point beside
// the CT variants of eval-compression. q = round(w / s), s = max|w| / 127,
// stored as one byte per weight plus one F32 scale per row.
#pragma once
#include <cstdint>
#include <vector>

namespace ctscope {

struct QuantizedRows {
  std::vector<float> W_hat;  // the dequantized matrix (n x d)
  double sst = 0;            // of W
  uint64_t stored_params = 0, stored_bytes = 0;
};

// The squared error of W_hat against W is added to *sse element by element, so
// a sum over many matrices is the same whatever the matrix boundaries.
QuantizedRows int8_row_absmax(const std::vector<float>& W, int64_t n, int64_t d, double* sse);

}  // namespace ctscope
