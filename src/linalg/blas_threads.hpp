// Scoped OpenBLAS thread count. OpenBLAS workers spin (sched_yield) for a
// long while after every threaded call and take a core from whatever runs
// next: our own AMX and vector workers. analyze_matrix therefore runs BLAS on
// one thread and splits work itself; only calls big enough to repay the spin
// (a full LAPACK eigensolve) ask for every thread.
#pragma once
#include <cblas.h>

#include <algorithm>

#include "util/thread_pool.hpp"

namespace ctscope::linalg {

// OpenBLAS's thread count when ctscope first touched it: what the user asked for
// (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS) or every core.
inline int blas_threads_default() {
  static const int n = openblas_get_num_threads();
  return n;
}

class ScopedBlasThreads {
 public:
  static constexpr int kDefault = 0;
  // n threads, or kDefault: the process's own setting.
  // Inside a parallel region it changes nothing: the count is global, and
  // the region's owner set it for every slice.
  explicit ScopedBlasThreads(int n) : saved_(openblas_get_num_threads()) {
    if (in_parallel_region()) {
      saved_ = 0;
      return;
    }
    const int want = n > 0 ? std::min(n, blas_threads_default()) : blas_threads_default();
    if (want != saved_) openblas_set_num_threads(want);
    else saved_ = 0;
  }
  ~ScopedBlasThreads() {
    if (saved_ > 0) openblas_set_num_threads(saved_);
  }
  ScopedBlasThreads(const ScopedBlasThreads&) = delete;
  ScopedBlasThreads& operator=(const ScopedBlasThreads&) = delete;

 private:
  int saved_;
};

}  // namespace ctscope::linalg
