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
// exp of one vector of values at p, in place (unaligned): one libmvec call.
__attribute__((target("avx512f"))) void exp16f(float* p) { _mm512_storeu_ps(p, _ZGVeN16v_expf(_mm512_loadu_ps(p))); }
__attribute__((target("avx2,fma"))) void exp8f(float* p) { _mm256_storeu_ps(p, _ZGVdN8v_expf(_mm256_loadu_ps(p))); }
__attribute__((target("avx512f"))) void exp8d(double* p) { _mm512_storeu_pd(p, _ZGVeN8v_exp(_mm512_loadu_pd(p))); }
__attribute__((target("avx2,fma"))) void exp4d(double* p) { _mm256_storeu_pd(p, _ZGVdN4v_exp(_mm256_loadu_pd(p))); }

// x[0..n) through `vector`, Lanes values at a time; the tail is padded with
// zeros into one more vector, so every element takes the same routine.
template <int Lanes, class T>
void exp_by(void (*vector)(T*), T* x, int64_t n) {
  int64_t i = 0;
  for (; i + Lanes <= n; i += Lanes) vector(x + i);
  if (i >= n) return;
  T tail[Lanes] = {};
  std::copy(x + i, x + n, tail);
  vector(tail);
  std::copy_n(tail, n - i, x + i);
}
#endif

template <class T>
void exp_scalar(T* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
}

}  // namespace

bool exp_in_place(float* x, int64_t n, ExpPath path) {
  switch (path) {
#if defined(__x86_64__)
    case ExpPath::Avx512:
      if (!cpu_features().avx512) return false;
      exp_by<16>(exp16f, x, n);
      return true;
    case ExpPath::Avx2:
      if (!cpu_features().avx2_fma) return false;
      exp_by<8>(exp8f, x, n);
      return true;
#else
    case ExpPath::Avx512:
    case ExpPath::Avx2:
      return false;
#endif
    case ExpPath::Scalar:
      exp_scalar(x, n);
      return true;
  }
  return false;
}

void exp_in_place(float* x, int64_t n) {
  if (n <= 0) return;
  for (const ExpPath p : {ExpPath::Avx512, ExpPath::Avx2, ExpPath::Scalar})
    if (exp_in_place(x, n, p)) return;
}

void exp_in_place(double* x, int64_t n) {
  if (n <= 0) return;
#if defined(__x86_64__)
  if (cpu_features().avx512) return exp_by<8>(exp8d, x, n);
  if (cpu_features().avx2_fma) return exp_by<4>(exp4d, x, n);
#endif
  exp_scalar(x, n);
}

}  // namespace ctscope
