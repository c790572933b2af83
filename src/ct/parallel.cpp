#include "ct/parallel.hpp"

#include <condition_variable>
#include <mutex>
#include <vector>

namespace ctscope::ct::detail {

namespace {

thread_local bool tl_pool_thread = false;

class Pool {
 public:
  static Pool& get() {
    static Pool pool(worker_count() - 1);
    return pool;
  }

  void run(int workers, void (*job)(void*, int), void* ctx) {
    std::unique_lock busy(run_mu_, std::try_to_lock);
    if (tl_pool_thread || !busy.owns_lock() || threads_.empty()) {
      for (int w = 0; w < workers; ++w) job(ctx, w);
      return;
    }
    workers = std::min<int>(workers, static_cast<int>(threads_.size()) + 1);
    {
      std::lock_guard lk(mu_);
      job_ = job;
      ctx_ = ctx;
      workers_ = workers;
      pending_ = workers - 1;
      ++generation_;
    }
    wake_.notify_all();
    job(ctx, 0);
    std::unique_lock lk(mu_);
    done_.wait(lk, [&] { return pending_ == 0; });
  }

  ~Pool() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

 private:
  explicit Pool(int n) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this, i] { loop(i + 1); });
  }

  void loop(int w) {
    tl_pool_thread = true;
    uint64_t seen = 0;
    for (;;) {
      std::unique_lock lk(mu_);
      wake_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (w >= workers_) continue;  // this job needs fewer workers
      auto* job = job_;
      void* ctx = ctx_;
      lk.unlock();
      job(ctx, w);
      lk.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::mutex run_mu_, mu_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> threads_;
  void (*job_)(void*, int) = nullptr;
  void* ctx_ = nullptr;
  int workers_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace

void run_on_pool(int workers, void (*job)(void*, int), void* ctx) { Pool::get().run(workers, job, ctx); }

}  // namespace ctscope::ct::detail
