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

}  // namespace ctscope
