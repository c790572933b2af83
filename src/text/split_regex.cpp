#include "text/split_regex.hpp"

#include <cctype>

#include "text/unicode_classes.hpp"

namespace ctscope {
namespace {

constexpr std::string_view kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

enum class Cls { Letter, Number, Space, Other };

struct Scanner {
  std::string_view s;

  unicode::CodePoint at(size_t i) const { return unicode::next(s, i); }
  Cls cls(size_t i) const {
    const uint32_t cp = at(i).cp;
    if (unicode::is_letter(cp)) return Cls::Letter;
    if (unicode::is_number(cp)) return Cls::Number;
    if (unicode::is_whitespace(cp)) return Cls::Space;
    return Cls::Other;  // also a byte that is not UTF-8
  }
  bool is(size_t i, Cls c) const { return i < s.size() && cls(i) == c; }
  bool newline(size_t i) const { return i < s.size() && (s[i] == '\r' || s[i] == '\n'); }
  // End of the run of class c starting at i, at most `max` code points.
  size_t run(size_t i, Cls c, size_t max = SIZE_MAX) const {
    for (size_t n = 0; n < max && is(i, c); ++n) i += at(i).len;
    return i;
  }

  // 's 't 're 've 'm 'll 'd (any case when `fold`): the match length, or 0.
  size_t contraction(size_t i, bool fold) const {
    if (s[i] != '\'' || i + 1 >= s.size()) return 0;
    auto ch = [&](size_t k) {
      const char c = i + k < s.size() ? s[i + k] : '\0';
      return fold ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : c;
    };
    const char a = ch(1), b = ch(2);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
  }

  // \s+(?!\S) then \s+: a whitespace run gives back its last code point to a
  // following non-space (which then takes it as its optional leading char),
  // unless it is the only one.
  size_t spaces(size_t i) const {
    const size_t j = run(i, Cls::Space);
    if (j == s.size()) return j - i;
    size_t last = i;  // start of the run's last code point
    for (size_t k = i; k < j; k += at(k).len) last = k;
    return last > i ? last - i : j - i;
  }

  size_t gpt2(size_t i) const {
    if (size_t n = contraction(i, false)) return n;
    const size_t after_space = s[i] == ' ' ? i + 1 : i;
    for (Cls c : {Cls::Letter, Cls::Number, Cls::Other})
      if (is(after_space, c)) return run(after_space, c) - i;
      else if (is(i, c)) return run(i, c) - i;
    return spaces(i);
  }

  size_t llama3(size_t i, size_t max_digits) const {
    if (size_t n = contraction(i, true)) return n;
    // [^\r\n\p{L}\p{N}]?\p{L}+
    const Cls c0 = cls(i);
    if (c0 != Cls::Letter && c0 != Cls::Number && !newline(i)) {
      const size_t j = i + at(i).len;
      if (is(j, Cls::Letter)) return run(j, Cls::Letter) - i;
    }
    if (c0 == Cls::Letter) return run(i, Cls::Letter) - i;
    if (c0 == Cls::Number) return run(i, Cls::Number, max_digits) - i;  // \p{N}{1,3} or \p{N}
    //  ?[^\s\p{L}\p{N}]+[\r\n]*
    const size_t j = s[i] == ' ' && is(i + 1, Cls::Other) ? i + 1 : i;
    if (is(j, Cls::Other)) {
      size_t k = run(j, Cls::Other);
      while (newline(k)) ++k;
      return k - i;
    }
    // \s*[\r\n]+ : through the last newline of the whitespace run
    const size_t end = run(i, Cls::Space);
    size_t through = 0;
    for (size_t k = i; k < end; k += at(k).len)
      if (newline(k)) through = k + 1 - i;
    if (through) return through;
    return spaces(i);
  }
};

}  // namespace

std::optional<SplitRegex> known_split_regex(std::string_view pattern) {
  for (SplitRegex r : {SplitRegex::Gpt2, SplitRegex::Llama3, SplitRegex::Qwen2})
    if (pattern == split_regex_text(r)) return r;
  return std::nullopt;
}

std::string_view split_regex_text(SplitRegex r) {
  switch (r) {
    case SplitRegex::Gpt2: return kGpt2;
    case SplitRegex::Llama3: return kLlama3;
    case SplitRegex::Qwen2: return kQwen2;
  }
  return {};
}

std::vector<std::string_view> split_by(std::string_view text, SplitRegex r) {
  const Scanner sc{text};
  std::vector<std::string_view> out;
  for (size_t i = 0; i < text.size();) {
    size_t n = r == SplitRegex::Gpt2 ? sc.gpt2(i) : sc.llama3(i, r == SplitRegex::Llama3 ? 3 : 1);
    if (n == 0) n = sc.at(i).len;  // cannot happen (every class matches); never loop forever
    out.push_back(text.substr(i, n));
    i += n;
  }
  return out;
}

std::vector<std::string_view> split_digits(std::string_view text, bool individual) {
  const Scanner sc{text};
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    const size_t len = sc.at(i).len;
    if (sc.is(i, Cls::Number)) {
      if (i > start) out.push_back(text.substr(start, i - start));
      const size_t end = individual ? i + len : sc.run(i, Cls::Number);
      out.push_back(text.substr(i, end - i));
      start = i = end;
    } else {
      i += len;
    }
  }
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

}  // namespace ctscope
