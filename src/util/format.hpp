// Small text helpers shared by every rendering.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ctscope {

// 1100048384 -> "1,100,048,384", independent of the user's locale.
inline std::string with_commas(uint64_t v) {
  const std::string digits = std::to_string(v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// {32000, 2048} -> "[32000, 2048]".
inline std::string shape_str(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// (1, "chunk") -> "1 chunk", (2, "chunk") -> "2 chunks", (3, "matrix",
// "matrices") -> "3 matrices": counts in sentences.
inline std::string plural(int64_t n, const std::string& one, const std::string& many = "") {
  return std::to_string(n) + " " + (n == 1 ? one : many.empty() ? one + "s" : many);
}

}  // namespace ctscope
