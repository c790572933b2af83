// One error type for everything a user can get wrong (bad file, bad flag).
// The CLI prints what() on one line and exits with code 2; nothing else is thrown
// for input problems, so a crash is always a bug, never a bad file.
#pragma once
#include <fmt/format.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace ctscope {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The one line a user error ends in, on stderr: "ctscope: error: WHAT".
inline void print_error_line(const char* what) {
  std::fprintf(stderr, "ctscope: error: %s\n", what);
  std::fflush(stderr);
}

// fail("model.gguf", "tensor {} past end of file", name) -> "model.gguf: tensor x past end of file"
template <typename... Args>
[[noreturn]] void fail(const std::string& where, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(where + ": " + fmt::format(f, std::forward<Args>(args)...));
}

// Checked arithmetic for sizes read from files: overflow is a malformed file, not UB.
inline bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }
inline bool add_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_add_overflow(a, b, out); }

}  // namespace ctscope
