// util/vector_exp's paths side by side: nanoseconds per element of exp over a
// softmax-like row (values in [-20, 0]) on one thread, for the AVX-512 and
// AVX2 paths of glibc's libmvec and the scalar std::exp that machines
// without AVX2 (and the float exp before it) use.
// Usage: bench_exp [elements=1048576] [reps=20]
#include <algorithm>
#include <cstdio>
#include <vector>

#include "bench_args.hpp"
#include "util/vector_exp.hpp"
#include "yardstick.hpp"

using namespace ctscope;

namespace {
constexpr const char* kUsage =
    "usage: bench_exp [elements=1048576] [reps=20]\n"
    "  ns per element of exp (float and double) on each path this CPU has: libmvec AVX-512, AVX2, scalar.\n";
}  // namespace

int main(int argc, char** argv) {
  if (bench::wants_help(argc, argv, kUsage)) return 0;
  const int64_t n = bench::positional(argc, argv, 1, 1 << 20, kUsage);
  const int reps = static_cast<int>(bench::positional(argc, argv, 2, 20, kUsage));
  std::vector<float> in(static_cast<size_t>(n)), x(in.size());
  for (int64_t i = 0; i < n; ++i) in[static_cast<size_t>(i)] = -20.0f * static_cast<float>(i % 4099) / 4099.0f;
  const char* names[] = {"AVX-512 (libmvec)", "AVX2 (libmvec)", "scalar std::exp"};
  int k = 0;
  for (const ExpPath path : {ExpPath::Avx512, ExpPath::Avx2, ExpPath::Scalar}) {
    const char* name = names[k++];
    bool ok = true;
    const double s = bench::best_of(reps, [&] {
      std::copy(in.begin(), in.end(), x.begin());
      ok = exp_in_place(x.data(), n, path);
    });
    if (!ok) {
      std::printf("%-20s not on this CPU\n", name);
      continue;
    }
    std::printf("%-20s %.2f ns per float (copy included)\n", name, s / static_cast<double>(n) * 1e9);
  }
  std::vector<double> xd(in.size());
  const double sd = bench::best_of(reps, [&] {
    std::copy(in.begin(), in.end(), xd.begin());
    exp_in_place(xd.data(), n);
  });
  std::printf("%-20s %.2f ns per double, widest path (copy included)\n", "double", sd / static_cast<double>(n) * 1e9);
  return 0;
}
