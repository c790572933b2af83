// Helpers shared by the test suites: the real-model folder, a self-removing
// temporary directory, and running the ctscope binary as a user would.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace ctscope::test_support {

namespace fs = std::filesystem;

inline const fs::path kModels = CTSCOPE_SHARED_MODELS;

// Skips the current test with a clear message when a real model file is absent.
#define CTSCOPE_REQUIRE_MODEL(file)                                                                  \
  if (!std::filesystem::exists(::ctscope::test_support::kModels / (file)))                           \
  GTEST_SKIP() << "real model " << (file) << " not found in " << ::ctscope::test_support::kModels    \
               << " (tests need ../shared/models beside the checkout)"

// A fresh directory under /tmp, removed with everything in it at scope exit.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag = "test") {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("ctscope_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
};

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

inline int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

struct CliRun {
  int code = -1;
  std::string out, err;
};

// Runs `ctscope ARGS` (ARGS as shell words) and captures exit code, stdout, stderr.
inline CliRun run_cli(const std::string& args) {
  TempDir io("cli");
  const std::string cmd = std::string(CTSCOPE_BINARY) + " " + args + " >" + (io / "out").string() + " 2>" +
                          (io / "err").string() + " </dev/null";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(io / "out"), slurp(io / "err")};
}

}  // namespace ctscope::test_support
