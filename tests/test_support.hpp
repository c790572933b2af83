// Helpers shared by the test suites: the real-model folder, a self-removing
// temporary directory, and running the ctscope binary as a user would.
#pragma once
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "linalg/blas_core.hpp"
#include "model/config.hpp"

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

// One temporary directory for the whole test process, removed at exit.
inline const TempDir& process_tmp() {
  static const TempDir dir("tests");
  return dir;
}

// Writes the bytes of a contiguous container of 1-byte values (or a text) to p.
template <typename C>
  requires requires(const C& c) {
    c.data();
    c.size();
  }
void write_bytes(const fs::path& p, const C& bytes) {
  static_assert(sizeof(*bytes.data()) == 1);
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}
inline void write_bytes(const fs::path& p, std::string_view text) { write_bytes<std::string_view>(p, text); }

// write_bytes into process_tmp() / name; returns the path.
template <typename C>
fs::path write_temp(const std::string& name, const C& bytes) {
  const fs::path p = process_tmp() / name;
  write_bytes(p, bytes);
  return p;
}

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

inline int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// The shape of a model config, checked field by field (-1: not checked).
struct ConfigShape {
  int64_t dim = -1, hidden_dim = -1, n_layers = -1, n_heads = -1, n_kv_heads = -1, vocab_size = -1, max_seq_len = -1;
};
inline void expect_shape(const ModelConfig& c, const ConfigShape& s) {
  auto check = [](int64_t got, int64_t want, const char* field) {
    if (want >= 0) {
      EXPECT_EQ(got, want) << field;
    }
  };
  check(c.dim, s.dim, "dim");
  check(c.hidden_dim, s.hidden_dim, "hidden_dim");
  check(c.n_layers, s.n_layers, "n_layers");
  check(c.n_heads, s.n_heads, "n_heads");
  check(c.n_kv_heads, s.n_kv_heads, "n_kv_heads");
  check(c.vocab_size, s.vocab_size, "vocab_size");
  check(c.max_seq_len, s.max_seq_len, "max_seq_len");
}
// stories260K (../shared/models), in any of its formats.
inline constexpr ConfigShape kStories260K{64, 172, 5, 8, 4, 512, 512};

struct CliRun {
  int code = -1;
  std::string out, err;
};

// "OPENBLAS_CORETYPE=<this process's core> " (empty when the test set it): a
// command prefix that runs ctscope (which respects the variable) on this
// process's OpenBLAS kernels, so the tests that hold its output to in-process
// results, or to other runs, digit for digit compare like with like.
inline std::string same_blas_core_env() {
  const char* set = std::getenv("OPENBLAS_CORETYPE");
  return set && *set ? std::string() : "OPENBLAS_CORETYPE=" + linalg::blas_core() + " ";
}

// Runs `ctscope ARGS` (ARGS as shell words) and captures exit code, stdout,
// stderr, on this process's OpenBLAS kernels (same_blas_core_env); `env`:
// "NAME=value ..." set for that run alone.
inline CliRun run_cli(const std::string& args, const std::string& env = "") {
  TempDir io("cli");
  const std::string cmd = env + " " + same_blas_core_env() + std::string(CTSCOPE_BINARY) + " " + args + " >" + (io / "out").string() + " 2>" +
                          (io / "err").string() + " </dev/null";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(io / "out"), slurp(io / "err")};
}

// A `ctscope synth --preset tiny` model (30 matrices), made once per test process.
inline const fs::path& tiny_synthetic_model() {
  static const fs::path p = [] {
    const fs::path dir = process_tmp().path / "synth_tiny";
    const CliRun r = run_cli("synth " + dir.string() + " --preset tiny -q");
    EXPECT_EQ(r.code, 0) << r.err;
    return dir;
  }();
  return p;
}

// An analyze result (JSON file) less what differs between runs of the same
// analysis: the timing, each matrix's cost, and when it ran.
inline nlohmann::json result_without_timing(const fs::path& file) {
  nlohmann::json j = nlohmann::json::parse(slurp(file));
  j.erase("timing");
  if (j.contains("tool")) j["tool"].erase("run_utc");
  for (auto& m : j["matrices"]) m.erase("cost");
  return j;
}

}  // namespace ctscope::test_support
