// parallel_for on plain threads, joined before returning. The hot loops of ct/
// alternate with OpenBLAS calls; OpenMP workers spin-wait after each region
// (libgomp's default spin, long with SPR's slow `pause`) and take a core from
// the BLAS call that follows unless OMP_WAIT_POLICY=passive is set before
// start-up, which a library cannot do. Joined threads never spin. Internal.
#pragma once
#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace ctscope::ct {

inline int worker_count() {
  static const int n = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 16u));
  return n;
}

// fn(begin, end, worker) over [0, n) in contiguous slices of `grain`-multiples.
template <typename Fn>
void parallel_for(int64_t n, int64_t grain, Fn&& fn) {
  const int64_t blocks = (n + grain - 1) / grain;
  const int workers = static_cast<int>(std::min<int64_t>(worker_count(), blocks));
  if (workers <= 1) {
    if (n > 0) fn(int64_t{0}, n, 0);
    return;
  }
  auto slice = [&](int w) {
    const int64_t b0 = blocks * w / workers, b1 = blocks * (w + 1) / workers;
    const int64_t i0 = std::min(n, b0 * grain), i1 = std::min(n, b1 * grain);
    if (i0 < i1) fn(i0, i1, w);
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(workers - 1));
  for (int w = 1; w < workers; ++w) pool.emplace_back(slice, w);
  slice(0);
  for (auto& t : pool) t.join();
}

}  // namespace ctscope::ct
