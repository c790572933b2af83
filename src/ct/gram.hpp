// One streaming pass over a stored matrix: the smaller Gram matrix (float SYRK
// per panel, flushed into double), column sums, sum and sum of squares in
// double, and for wide matrices the projections Y = W Qall. Internal to ct/.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "ct/matrix_analysis.hpp"

namespace ctscope::ct {

struct GramPass {
  bool row_gram = true;        // true: G = W^T W (d x d); false: G = W W^T (n x n)
  int64_t m = 0;               // side of G
  std::vector<double> G;       // m x m, full symmetric
  std::vector<double> colsum;  // d
  double ss = 0, sum = 0;
  bool finite = true;          // false: W holds NaN/Inf and nothing else is valid
  std::vector<double> Y;       // n x kq, W Qall (only for !row_gram and kq > 0)
  double flops = 0;
};

// Qall: d x kq float row-major, used only when !row_gram. Throws Error for
// dtypes that cannot be converted or rows that are not whole blocks.
GramPass gram_pass(const MatrixView& W, bool row_gram, const float* Qall = nullptr, int kq = 0);

// The n x d matrix as float32, panel by panel: calls fn(first_row, rows, panel).
// Used by the paths that need W itself (amplitudes, svd and universal bases).
void for_each_row_panel(const MatrixView& W, int64_t max_rows, const std::function<void(int64_t, int64_t, const float*)>& fn);

}  // namespace ctscope::ct
