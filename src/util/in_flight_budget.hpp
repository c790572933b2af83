// A cap on what concurrent tasks hold at once (e.g. the bytes of the matrices
// analysis lanes are reading): a task whose share would pass it waits until
// others give theirs back; a task alone always goes, whatever its share.
#pragma once
#include <condition_variable>
#include <mutex>

namespace ctscope {

class InFlightBudget {
 public:
  explicit InFlightBudget(double cap) : cap_(cap) {}
  // Blocks while others hold something and amount would pass the cap.
  void acquire(double amount) {
    std::unique_lock lk(mu_);
    freed_.wait(lk, [&] { return held_ == 0 || held_ + amount <= cap_; });
    held_ += amount;
  }
  void release(double amount) {
    {
      const std::lock_guard lk(mu_);
      held_ -= amount;
    }
    freed_.notify_all();
  }
  double held() const {
    const std::lock_guard lk(mu_);
    return held_;
  }

  // amount acquired for the holder's lifetime: given back however its scope ends.
  class Hold {
   public:
    Hold(InFlightBudget& budget, double amount) : budget_(budget), amount_(amount) { budget_.acquire(amount_); }
    ~Hold() { budget_.release(amount_); }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

   private:
    InFlightBudget& budget_;
    double amount_;
  };

 private:
  double cap_, held_ = 0;
  mutable std::mutex mu_;
  std::condition_variable freed_;
};

}  // namespace ctscope
