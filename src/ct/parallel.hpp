// parallel_for on a small pool of long-lived threads that sleep between jobs.
// The hot loops of ct/ alternate with OpenBLAS calls; OpenMP workers
// spin-wait after each region (libgomp's default spin, long with SPR's slow
// `pause`) and take a core from the BLAS call that follows unless
// OMP_WAIT_POLICY=passive is set before start-up, which a library cannot do.
// These workers never spin, and unlike a thread per call they cost one
// wake-up (a futex) instead of a clone and a join per call. Internal.
#pragma once
#include <algorithm>
#include <cstdint>
#include <thread>
#include <utility>

namespace ctscope::ct {

inline int worker_count() {
  static const int n = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 16u));
  return n;
}

namespace detail {
// Runs job(ctx, w) for w in [0, workers): w = 0 on the calling thread, the
// rest on pool threads; returns when all are done. Falls back to running
// every w on the calling thread when called from a pool thread (nested) or
// while another thread's job holds the pool.
void run_on_pool(int workers, void (*job)(void*, int), void* ctx);
}  // namespace detail

// fn(begin, end, worker) over [0, n) in contiguous slices of `grain`-multiples.
// Slices of one call never share a worker index, so fn may keep per-worker
// partial results indexed by `worker` (< worker_count()).
template <typename Fn>
void parallel_for(int64_t n, int64_t grain, Fn&& fn) {
  const int64_t blocks = (n + grain - 1) / grain;
  const int workers = static_cast<int>(std::min<int64_t>(worker_count(), blocks));
  if (workers <= 1) {
    if (n > 0) fn(int64_t{0}, n, 0);
    return;
  }
  struct Ctx {
    Fn* fn;
    int64_t n, grain, blocks;
    int workers;
  } ctx{&fn, n, grain, blocks, workers};
  detail::run_on_pool(workers, [](void* p, int w) {
    const auto& c = *static_cast<Ctx*>(p);
    const int64_t b0 = c.blocks * w / c.workers, b1 = c.blocks * (w + 1) / c.workers;
    const int64_t i0 = std::min(c.n, b0 * c.grain), i1 = std::min(c.n, b1 * c.grain);
    if (i0 < i1) (*c.fn)(i0, i1, w);
  }, &ctx);
}

}  // namespace ctscope::ct
