#include "util/vector_exp.hpp"

#include <algorithm>
#include <cmath>

#if defined(__x86_64__)
#include <immintrin.h>

#include "util/cpu_features.hpp"

// glibc's libmvec, by the x86-64 vector function ABI names.
extern "C" {
__m512 _ZGVeN16v_expf(__m512);
__m256 _ZGVdN8v_expf(__m256);
__m512d _ZGVeN8v_exp(__m512d);
__m256d _ZGVdN4v_exp(__m256d);
}
#endif

namespace ctscope {

namespace {

#if defined(__x86_64__)

__attribute__((target("avx512f"))) void exp16(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _ZGVeN16v_expf(_mm512_loadu_ps(x + i)));
  if (i >= n) return;
  alignas(64) float tail[16] = {};
  std::copy(x + i, x + n, tail);
  _mm512_store_ps(tail, _ZGVeN16v_expf(_mm512_load_ps(tail)));
  std::copy_n(tail, n - i, x + i);
}

__attribute__((target("avx2,fma"))) void exp8(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _ZGVdN8v_expf(_mm256_loadu_ps(x + i)));
  if (i >= n) return;
  alignas(32) float tail[8] = {};
  std::copy(x + i, x + n, tail);
  _mm256_store_ps(tail, _ZGVdN8v_expf(_mm256_load_ps(tail)));
  std::copy_n(tail, n - i, x + i);
}

__attribute__((target("avx512f"))) void exp8d(double* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm512_storeu_pd(x + i, _ZGVeN8v_exp(_mm512_loadu_pd(x + i)));
  if (i >= n) return;
  alignas(64) double tail[8] = {};
  std::copy(x + i, x + n, tail);
  _mm512_store_pd(tail, _ZGVeN8v_exp(_mm512_load_pd(tail)));
  std::copy_n(tail, n - i, x + i);
}

__attribute__((target("avx2,fma"))) void exp4d(double* x, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) _mm256_storeu_pd(x + i, _ZGVdN4v_exp(_mm256_loadu_pd(x + i)));
  if (i >= n) return;
  alignas(32) double tail[4] = {};
  std::copy(x + i, x + n, tail);
  _mm256_store_pd(tail, _ZGVdN4v_exp(_mm256_load_pd(tail)));
  std::copy_n(tail, n - i, x + i);
}
#endif

}  // namespace

void exp_in_place(double* x, int64_t n) {
  if (n <= 0) return;
#if defined(__x86_64__)
  if (cpu_features().avx512) return exp8d(x, n);
  if (cpu_features().avx2_fma) return exp4d(x, n);
#endif
  for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
}

bool exp_in_place(float* x, int64_t n, ExpPath path) {
  switch (path) {
#if defined(__x86_64__)
    case ExpPath::Avx512:
      if (!cpu_features().avx512) return false;
      exp16(x, n);
      return true;
    case ExpPath::Avx2:
      if (!cpu_features().avx2_fma) return false;
      exp8(x, n);
      return true;
#else
    case ExpPath::Avx512:
    case ExpPath::Avx2:
      return false;
#endif
    case ExpPath::Scalar:
      for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
      return true;
  }
  return false;
}

void exp_in_place(float* x, int64_t n) {
  if (n <= 0) return;
  for (const ExpPath p : {ExpPath::Avx512, ExpPath::Avx2, ExpPath::Scalar})
    if (exp_in_place(x, n, p)) return;
}

}  // namespace ctscope
