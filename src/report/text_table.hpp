// One table, two renderings: aligned plain text for the terminal and a
// Markdown table, so that the terminal report and --markdown show the same
// tables by construction.
#pragma once
#include <string>
#include <vector>

namespace ctscope::report {

struct Table {
  std::string title;
  std::vector<std::string> head;               // column names; the first column is left-aligned
  std::vector<std::vector<std::string>> rows;  // each as long as head
  std::vector<std::string> notes;              // lines shown under the table
  std::string align;                           // 'l' or 'r' per column; default: the first 'l', the others 'r'
  bool left(size_t c) const { return c < align.size() ? align[c] == 'l' : c == 0; }
};

// "\nTitle\n  head...\n  row...\n  note\n", columns aligned as Table::left says.
std::string render_text(const Table& t);
// "\n### Title\n\n| head |\n|---|---:|\n| row |\n\nnote\n".
std::string render_markdown(const Table& t);

// Display width of UTF-8 text (code points; the report uses no wide characters).
size_t display_width(const std::string& s);

}  // namespace ctscope::report
