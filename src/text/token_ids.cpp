#include "text/token_ids.hpp"

#include <charconv>

#include "util/error.hpp"
#include "util/mapped_file.hpp"

namespace ctscope {

namespace {

// "[1, 403, 407]": a flat JSON array of non-negative integers, read without a
// recursive parser (so no nesting can exhaust the stack). Anything else is an
// Error naming the file and the byte offset.
std::vector<int32_t> parse_flat_array(const std::string& s, size_t pos, const std::string& where) {
  std::vector<int32_t> ids;
  auto skip_space = [&] {
    while (pos < s.size() && std::string_view(" \t\r\n").find(s[pos]) != std::string_view::npos) ++pos;
  };
  auto bad = [&](const char* what) {
    fail(where, "byte {}: {} (expected a flat JSON array of token ids, e.g. [1, 403, 407])", pos, what);
  };
  ++pos;  // '['
  skip_space();
  if (pos < s.size() && s[pos] == ']') {
    ++pos;
  } else {
    for (;;) {
      skip_space();
      int32_t v = 0;
      const auto [ptr, ec] = std::from_chars(s.data() + pos, s.data() + s.size(), v);
      if (ptr == s.data() + pos) bad(pos < s.size() && (s[pos] == '[' || s[pos] == '{') ? "nested value" : "not an integer");
      if (ec != std::errc() || v < 0) bad("not a token id (0 .. 2^31-1)");
      ids.push_back(v);
      pos = static_cast<size_t>(ptr - s.data());
      skip_space();
      if (pos < s.size() && s[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < s.size() && s[pos] == ']') {
        ++pos;
        break;
      }
      bad("expected ',' or ']'");
    }
  }
  skip_space();
  if (pos != s.size()) bad("text after the array");
  return ids;
}

}  // namespace

std::vector<int32_t> read_token_ids(const std::filesystem::path& file) {
  const std::string where = file.string();
  const auto mapped = MappedFile::open(where);  // a regular file: its size bounds what is read
  const std::string s(mapped->text());
  std::vector<int32_t> ids;
  const size_t start = s.find_first_not_of(" \t\r\n");
  if (start != std::string::npos && s[start] == '[') {
    ids = parse_flat_array(s, start, where);
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
