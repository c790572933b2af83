// Symmetric matrices kept as their upper triangle (m x m, row-major, double,
// entries j >= i valid): a full copy, every eigenvalue, the top eigenvectors.
// LAPACK does the solving; these wrappers fix the layouts and orders.
#pragma once
#include <cstdint>
#include <vector>

namespace ctscope::linalg {

// Full symmetric copy of an upper-triangle matrix, as T (float or double).
template <typename T>
void symmetric_from_upper(const std::vector<double>& U, int64_t m, std::vector<T>& out);

// All eigenvalues of A, descending (LAPACK dsyevd).
std::vector<double> sym_eigvals_desc(std::vector<double> A, int64_t m);

// The K eigenvectors of the largest eigenvalues of G, descending, as K x m rows (LAPACK dsyevr).
std::vector<double> top_eigenvectors(std::vector<double> G, int64_t m, int K);

}  // namespace ctscope::linalg
