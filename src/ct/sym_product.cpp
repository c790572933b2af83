#include "ct/sym_product.hpp"

#include <cblas.h>

#include <algorithm>

#include "ct/parallel.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace ctscope::ct {

#if defined(__AVX512F__)
namespace {

// Eight rows of M at a time: 8 x NV accumulators, NV vectors of X per column j.
template <int NV>
void thin_product_avx512(const float* M, int64_t m, const float* X, float* Z) {
  constexpr int kRows = 8, b = 16 * NV;
  parallel_for(m, kRows, [&](int64_t r0, int64_t r1, int) {
    for (int64_t i0 = r0; i0 < r1; i0 += kRows) {
      const float* rows[kRows];
      for (int r = 0; r < kRows; ++r) rows[r] = M + std::min(i0 + r, r1 - 1) * m;  // tail rows repeat the last one
      __m512 acc[kRows][NV];
      for (int r = 0; r < kRows; ++r)
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
      for (int64_t j = 0; j < m; ++j) {
        __m512 x[NV];
        for (int v = 0; v < NV; ++v) x[v] = _mm512_loadu_ps(X + j * b + 16 * v);
        for (int r = 0; r < kRows; ++r) {
          const __m512 mv = _mm512_set1_ps(rows[r][j]);
          for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(mv, x[v], acc[r][v]);
        }
      }
      for (int r = 0; r < kRows && i0 + r < r1; ++r)
        for (int v = 0; v < NV; ++v) _mm512_storeu_ps(Z + (i0 + r) * b + 16 * v, acc[r][v]);
    }
  });
}

}  // namespace
#endif

void thin_product(const float* M, int64_t m, const float* X, int b, float* Z) {
#if defined(__AVX512F__)
  if (b == 16) return thin_product_avx512<1>(M, m, X, Z);
  if (b == 32) return thin_product_avx512<2>(M, m, X, Z);
  if (b == 48) return thin_product_avx512<3>(M, m, X, Z);
#endif
  const int mi = static_cast<int>(m);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, mi, b, mi, 1.f, M, mi, X, b, 0.f, Z, b);
}

}  // namespace ctscope::ct
