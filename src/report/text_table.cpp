#include "report/text_table.hpp"

#include <algorithm>

namespace ctscope::report {

size_t display_width(const std::string& s) {
  size_t w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;  // count lead bytes, not continuations
  return w;
}

namespace {

std::string pad(const std::string& s, size_t width, bool left) {
  const size_t w = display_width(s);
  const std::string fill(width > w ? width - w : 0, ' ');
  return left ? s + fill : fill + s;
}

}  // namespace

std::string render_text(const Table& t) {
  std::vector<size_t> width(t.head.size(), 0);
  auto widen = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], display_width(row[c]));
  };
  widen(t.head);
  for (const auto& r : t.rows) widen(r);
  auto line = [&](const std::vector<std::string>& row) {
    std::string o = "  ";
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string cell = c < row.size() ? row[c] : "";
      o += (c == 0 ? "" : "  ") + pad(cell, width[c], t.left(c));
    }
    while (!o.empty() && o.back() == ' ') o.pop_back();
    return o + "\n";
  };
  std::string o = "\n" + t.title + "\n";
  if (std::any_of(t.head.begin(), t.head.end(), [](const std::string& h) { return !h.empty(); })) o += line(t.head);
  for (const auto& r : t.rows) o += line(r);
  for (const auto& n : t.notes) o += "  " + n + "\n";
  return o;
}

std::string render_markdown(const Table& t) {
  auto line = [&](const std::vector<std::string>& row) {
    std::string o = "|";
    for (size_t c = 0; c < t.head.size(); ++c) o += " " + (c < row.size() ? row[c] : std::string()) + " |";
    return o + "\n";
  };
  std::string o = "\n### " + t.title + "\n\n" + line(t.head) + "|";
  for (size_t c = 0; c < t.head.size(); ++c) o += t.left(c) ? "---|" : "---:|";
  o += "\n";
  for (const auto& r : t.rows) o += line(r);
  if (!t.notes.empty()) o += "\n";
  for (const auto& n : t.notes) o += n + "\n";
  return o;
}

}  // namespace ctscope::report
