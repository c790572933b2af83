// The project's one thread pool: long-lived threads that sleep between jobs,
// and parallel_for on top of it. Every parallel loop of ctscope runs here
// (dtype conversion, the Gram and eigen kernels, the forward pass, synth).
// Why not OpenMP: the hot loops alternate with OpenBLAS calls, and OpenMP
// workers spin-wait after each region (libgomp's default spin, long with
// SPR's slow `pause`), taking a core from the BLAS call that follows unless
// OMP_WAIT_POLICY=passive is set before start-up, which a library cannot do.
// These workers never spin, and unlike a thread per call they cost one
// wake-up (a futex) instead of a clone and a join. Nested calls run inline,
// so a parallel routine may call another without oversubscribing.
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace ctscope {

inline int worker_count() {
  static const int n = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 16u));
  return n;
}

class ThreadPool {
 public:
  using Job = void (*)(void* ctx, int worker);
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  int threads() const { return static_cast<int>(threads_.size()); }

  // job(ctx, w) for w in [0, workers): pool thread i takes w = first + i, the
  // calling thread takes the w below `first` meanwhile; returns when all are
  // done. One job at a time: with `wait` a second caller waits its turn,
  // without it run() returns false at once (and runs nothing) when the pool is
  // busy or the caller is one of its own threads. workers <= first + threads().
  bool run(Job job, void* ctx, int workers, int first, bool wait);

 private:
  void loop(int i);
  std::mutex run_mu_, mu_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> threads_;
  Job job_ = nullptr;
  void* ctx_ = nullptr;
  int workers_ = 0, first_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

namespace detail {
ThreadPool& loop_pool();  // worker_count() - 1 threads: the caller is worker 0
}  // namespace detail

// True while the calling thread runs a slice of a pool job (a pool thread, or
// a caller running its own share). Work started there runs on that thread:
// nested parallel_for does, and so do the AMX tiles and the BLAS thread count
// (a slice must not change what the other slices' BLAS calls use).
bool in_parallel_region();

// fn(begin, end, worker) over [0, n) in contiguous slices of `grain`-multiples.
// Slices of one call never share a worker index, so fn may keep per-worker
// partial results indexed by `worker` (< worker_count()). Nested calls, and
// calls while another thread holds the pool, run on the calling thread.
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
  const ThreadPool::Job slice = [](void* p, int w) {
    const auto& c = *static_cast<Ctx*>(p);
    const int64_t b0 = c.blocks * w / c.workers, b1 = c.blocks * (w + 1) / c.workers;
    const int64_t i0 = std::min(c.n, b0 * c.grain), i1 = std::min(c.n, b1 * c.grain);
    if (i0 < i1) (*c.fn)(i0, i1, w);
  };
  if (!detail::loop_pool().run(slice, &ctx, workers, 1, false))
    for (int w = 0; w < workers; ++w) slice(&ctx, w);
}

// fn(task, lane) for every task in [0, tasks), handed out in order, one at a
// time, to min(lanes, worker_count()) lanes (the caller is lane 0), each task
// running whole on its lane. With several lanes, nested parallel loops inside
// fn run inline, in the same slices they would have on the pool, so what fn
// computes does not depend on the lanes; with one, fn runs on the caller and
// its loops use the pool. For jobs that scale worse split than side by side
// (the matrices of an analysis). The first exception stops the hand-out and is
// rethrown here once every lane has stopped.
template <typename Fn>
void parallel_tasks(int64_t tasks, int lanes, Fn&& fn) {
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::exception_ptr error;
  parallel_for(std::max(lanes, 1), 1, [&](int64_t l0, int64_t l1, int) {
    for (int64_t lane = l0; lane < l1; ++lane)
      for (int64_t t = next++; t < tasks && !failed; t = next++) {
        try {
          fn(t, static_cast<int>(lane));
        } catch (...) {
          const std::lock_guard lk(mu);
          if (!error) error = std::current_exception();
          failed = true;
        }
      }
  });
  if (error) std::rethrow_exception(error);
}

}  // namespace ctscope
