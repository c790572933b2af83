#include "text/token_ids.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "util/error.hpp"

namespace ctscope {

std::vector<int32_t> read_token_ids(const std::filesystem::path& file) {
  const std::string where = file.string();
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(where, "cannot open token-id file");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string s = ss.str();
  std::vector<int32_t> ids;
  const size_t start = s.find_first_not_of(" \t\r\n");
  if (start != std::string::npos && s[start] == '[') {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(s);
    } catch (const nlohmann::json::exception& e) {
      fail(where, "not a JSON array of token ids: {}", e.what());
    }
    for (const auto& v : j) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
        fail(where, "token ids must be non-negative integers, got {}", v.dump());
      ids.push_back(v.get<int32_t>());
    }
  } else {
    size_t line = 1;
    for (size_t p = 0; p < s.size();) {
      const char c = s[p];
      if (c == '\n') ++line;
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++p;
        continue;
      }
      int32_t v = 0;
      const auto [ptr, ec] = std::from_chars(s.data() + p, s.data() + s.size(), v);
      const size_t used = static_cast<size_t>(ptr - (s.data() + p));
      const bool ends = p + used == s.size() || std::string_view(" \t\r\n").find(s[p + used]) != std::string_view::npos;
      if (ec != std::errc() || used == 0 || !ends || v < 0)
        fail(where, "line {}: not a token id (expected one non-negative integer per line, or a JSON array)", line);
      ids.push_back(v);
      p += used;
    }
  }
  if (ids.empty()) fail(where, "no token ids");
  return ids;
}

void check_token_ids(const std::vector<int32_t>& ids, int64_t vocab_size, const std::string& where) {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab_size)
      fail(where, "token id {} (position {}) is outside the model's vocabulary of {}", ids[i], i, vocab_size);
}

}  // namespace ctscope
