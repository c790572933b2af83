#include "util/thread_pool.hpp"

namespace ctscope {

namespace {
thread_local const ThreadPool* tl_owner = nullptr;  // the pool this thread works for
thread_local int tl_slices = 0;                     // slices of pool jobs this thread is running

// One slice of a job, counted for in_parallel_region.
void run_slice(ThreadPool::Job job, void* ctx, int w) {
  struct Count {
    Count() { ++tl_slices; }
    ~Count() { --tl_slices; }
  } count;
  job(ctx, w);
}
}  // namespace

bool in_parallel_region() { return tl_slices > 0; }

ThreadPool::ThreadPool(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this, i] { loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

bool ThreadPool::run(Job job, void* ctx, int workers, int first, bool wait) {
  if (tl_owner == this) return false;
  std::unique_lock busy(run_mu_, std::defer_lock);
  if (wait)
    busy.lock();
  else if (!busy.try_lock())
    return false;
  const int on_pool = std::clamp(workers - first, 0, threads());
  {
    std::lock_guard lk(mu_);
    job_ = job;
    ctx_ = ctx;
    workers_ = first + on_pool;
    first_ = first;
    pending_ = on_pool;
    ++generation_;
  }
  if (on_pool > 0) wake_.notify_all();
  for (int w = 0; w < first; ++w) run_slice(job, ctx, w);
  std::unique_lock lk(mu_);
  done_.wait(lk, [&] { return pending_ == 0; });
  return true;
}

void ThreadPool::loop(int i) {
  tl_owner = this;
  uint64_t seen = 0;
  for (;;) {
    std::unique_lock lk(mu_);
    wake_.wait(lk, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    const int w = first_ + i;
    if (w >= workers_) continue;  // this job needs fewer threads
    const Job job = job_;
    void* ctx = ctx_;
    lk.unlock();
    run_slice(job, ctx, w);
    lk.lock();
    if (--pending_ == 0) done_.notify_one();
  }
}

namespace detail {
ThreadPool& loop_pool() {
  static ThreadPool pool(worker_count() - 1);
  return pool;
}
}  // namespace detail

}  // namespace ctscope
