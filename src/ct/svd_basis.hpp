// The per-matrix optimum of the linear bases: the top-K right singular vectors
// of W (uncentered, like the fit), as a factored basis.
#pragma once
#include "ct/basis.hpp"
#include "linalg/matrix_view.hpp"

namespace ctscope::ct {

// K in 1..d. When W has fewer than K nonzero singular values (K > n, or low
// rank) the remaining rows are completed to an orthonormal set: the fit is
// then exact whatever they are.
FactoredBasis svd_basis(const linalg::MatrixView& W, int K);

}  // namespace ctscope::ct
