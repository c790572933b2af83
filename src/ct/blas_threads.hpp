// Scoped OpenBLAS thread count. OpenBLAS workers spin (sched_yield) for a
// long while after every threaded call and take a core from whatever runs
// next: our own AMX and vector workers. analyze_matrix therefore runs BLAS on
// one thread and splits work itself; only calls big enough to repay the spin
// (a full LAPACK eigensolve) ask for every thread. Internal to ct/.
#pragma once
#include <cblas.h>

namespace ctscope::ct {

class ScopedBlasThreads {
 public:
  explicit ScopedBlasThreads(int n) : saved_(openblas_get_num_threads()) {
    if (n != saved_) openblas_set_num_threads(n);
    else saved_ = 0;
  }
  ~ScopedBlasThreads() { restore(); }
  ScopedBlasThreads(const ScopedBlasThreads&) = delete;
  ScopedBlasThreads& operator=(const ScopedBlasThreads&) = delete;
  // Back to the count before the guard (once).
  void restore() {
    if (saved_ > 0) openblas_set_num_threads(saved_);
    saved_ = 0;
  }

 private:
  int saved_;
};

}  // namespace ctscope::ct
