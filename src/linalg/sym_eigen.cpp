#include "linalg/sym_eigen.hpp"

#include <lapacke.h>

#include <algorithm>

#include "linalg/blas_threads.hpp"
#include "util/error.hpp"
#include "util/thread_pool.hpp"

namespace ctscope::linalg {

// Blocked so that the transposed reads stay in cache.
template <typename T>
void symmetric_from_upper(const std::vector<double>& U, int64_t m, std::vector<T>& out) {
  out.resize(static_cast<size_t>(m * m));
  constexpr int64_t kB = 64;
  parallel_for(m, kB, [&](int64_t r0, int64_t r1, int) {
    for (int64_t i0 = r0; i0 < r1; i0 += kB)
      for (int64_t j0 = 0; j0 < m; j0 += kB)
        for (int64_t i = i0; i < std::min(r1, i0 + kB); ++i)
          for (int64_t j = j0; j < std::min(m, j0 + kB); ++j)
            out[i * m + j] = static_cast<T>(j >= i ? U[i * m + j] : U[j * m + i]);
  });
}
template void symmetric_from_upper<float>(const std::vector<double>&, int64_t, std::vector<float>&);
template void symmetric_from_upper<double>(const std::vector<double>&, int64_t, std::vector<double>&);

std::vector<double> sym_eigvals_desc(std::vector<double> A, int64_t m) {
  std::vector<double> w(static_cast<size_t>(m));
  if (m == 0) return w;
  // Only a big solve repays waking (and then spinning) OpenBLAS's threads.
  ScopedBlasThreads threads(m >= 1024 ? ScopedBlasThreads::kDefault : 1);
  const auto mi = static_cast<lapack_int>(m);
  if (LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', mi, A.data(), mi, w.data()) != 0)
    throw Error("symmetric eigensolver failed to converge");
  std::reverse(w.begin(), w.end());
  return w;
}

std::vector<double> top_eigenvectors(std::vector<double> G, int64_t m, int K) {
  const auto mi = static_cast<lapack_int>(m);
  std::vector<double> w(static_cast<size_t>(m)), Z(static_cast<size_t>(m) * K);
  std::vector<lapack_int> isuppz(2 * static_cast<size_t>(K));
  lapack_int found = 0;
  if (LAPACKE_dsyevr(LAPACK_COL_MAJOR, 'V', 'I', 'L',  // row-major upper = column-major lower
                     mi, G.data(), mi, 0, 0, mi - K + 1, mi, 0.0, &found, w.data(),
                     Z.data(), mi, isuppz.data()) != 0 || found != K)
    throw Error("symmetric eigensolver failed to converge");
  std::vector<double> B(static_cast<size_t>(K) * m);
  for (int k = 0; k < K; ++k)  // ascending -> descending
    for (int64_t j = 0; j < m; ++j) B[k * m + j] = Z[static_cast<size_t>(K - 1 - k) * m + j];
  return B;
}

}  // namespace ctscope::linalg
