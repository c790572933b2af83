// Command lines of the micro-benchmarks that take positional numbers
// (bench_gram, bench_eigen): --help, and strict whole numbers with one error
// line and exit 2.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ctscope::bench {

// True (after printing usage) when any argument is --help or -h.
inline bool wants_help(int argc, char** argv, const char* usage) {
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::fputs(usage, stdout);
      return true;
    }
  return false;
}

// The i-th positional argument as a whole number >= min, or `fallback` when absent.
inline int64_t positional(int argc, char** argv, int i, int64_t fallback, const char* usage, int64_t min = 1) {
  if (argc <= i) return fallback;
  char* end = nullptr;
  const long long v = std::strtoll(argv[i], &end, 10);
  if (end == argv[i] || *end || v < min) {
    const char* slash = std::strrchr(argv[0], '/');
    std::fprintf(stderr, "%s: error: argument %d: '%s' is not a whole number >= %lld\n%s", slash ? slash + 1 : argv[0], i,
                 argv[i], static_cast<long long>(min), usage);
    std::exit(2);
  }
  return v;
}

}  // namespace ctscope::bench
