// One streaming pass over a stored matrix: the smaller Gram matrix (float SYRK
// per panel, flushed into double), column sums, sum and sum of squares in
// double, and for wide matrices the projections Y = W Qall.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "linalg/matrix_view.hpp"

namespace ctscope::linalg {

// Buffers are reused when a GramPass is passed again (no page faults per matrix).
struct GramPass {
  bool row_gram = true;        // true: G = W^T W (d x d); false: G = W W^T (n x n)
  int64_t m = 0;               // side of G
  std::vector<double> G;       // m x m row-major in its first m * m entries (it only grows), UPPER triangle only (j >= i) is valid
  std::vector<float> Gf;       // float scratch, all zero between passes
  bool gf_clean = false;       // Gf is all zero (the last pass completed)
  std::vector<double> colsum;  // d
  double ss = 0, sum = 0;
  // G, colsum, ss, sum, Y and YtY are those of scale * W: a power of two (so
  // exact), 1 unless W's sum of squares lies outside [kGramSsMin, kGramSsMax),
  // where a float Gram would overflow or its products underflow. The numbers
  // of docs/ct-analysis.md are ratios, unchanged by it; callers that report or
  // pool sums in the weights' units divide them back in double.
  double scale = 1;
  bool finite = true;          // false: W holds NaN/Inf and nothing else is valid
  std::vector<double> Y;       // n x kq, W Qall (wide path with kq > 0)
  std::vector<double> YtY;     // kq x kq, (W Qall)^T (W Qall) in double (whenever kq > 0); empty otherwise
  double flops = 0;
};

// Outside this range of sum W^2 a second pass runs on W scaled by a power of
// two: above it a float Gram entry (|G_ij| <= SS) can overflow, below it
// products of entries fall into float's subnormals and lose digits. Any model
// an fp16/bf16/fp32 trainer produced lies far inside, so its results are
// exactly those of a single unscaled pass.
inline constexpr double kGramSsMax = 1e38, kGramSsMin = 0x1p-60;

// Qall: d x kq float row-major (kq may be 0). Pass kq = 0 on the tall path
// when Q^T G Q is cheaper from G than W Q is from W (n >> d). Throws Error for
// dtypes that cannot be converted or rows that are not whole blocks.
void gram_pass(const MatrixView& W, bool row_gram, const float* Qall, int kq, GramPass& g);
GramPass gram_pass(const MatrixView& W, bool row_gram);

// The kernel BF16 matrices (at an even address, unscaled) take in this process
// now: "amx", "avx512bf16" (AVX-512 BF16 dot products) or "ssyrk" (converted
// to float; every other dtype takes it too).
std::string bf16_gram_kernel();

}  // namespace ctscope::linalg
