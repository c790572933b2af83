// What this process has used, for reports and benchmarks.
#pragma once
#include <sys/resource.h>

#include <chrono>

namespace ctscope {

// Peak resident set of this process in MB (getrusage; ru_maxrss is KiB on Linux).
inline double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

// Seconds since construction (or the last restart()), on the monotonic clock.
class Stopwatch {
 public:
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }
  void restart() { t0_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

}  // namespace ctscope
