// A stored matrix as float32, one row panel at a time, for the paths that need
// W itself (amplitudes, the svd and universal bases): memory stays at one
// panel whatever the matrix size.
#pragma once
#include <cstdint>
#include <functional>

#include "linalg/matrix_view.hpp"

namespace ctscope::linalg {

// Calls fn(first_row, rows, panel) for consecutive panels of at most max_rows
// rows (float32, row-major, d per row). Aligned F32 data is passed in place.
void for_each_row_panel(const MatrixView& W, int64_t max_rows,
                        const std::function<void(int64_t, int64_t, const float*)>& fn);

}  // namespace ctscope::linalg
