#include "util/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

namespace ctscope {

namespace {

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

// Characters on screen of a UTF-8 string (every byte that does not continue a sequence).
size_t columns(std::string_view s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

ProgressBar::Sink stderr_sink() {
  return {[](std::string_view s) {
            std::fwrite(s.data(), 1, s.size(), stderr);
            std::fflush(stderr);
          },
          [] {
            return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
          }};
}

}  // namespace

std::optional<ProgressMode> progress_mode_from_name(std::string_view name) {
  if (name == "auto") return ProgressMode::Auto;
  if (name == "bar") return ProgressMode::Bar;
  if (name == "lines") return ProgressMode::Lines;
  if (name == "none") return ProgressMode::None;
  return std::nullopt;
}

ProgressMode resolve_progress_mode(ProgressMode asked, bool stderr_is_terminal) {
  if (asked != ProgressMode::Auto) return asked;
  return stderr_is_terminal ? ProgressMode::Bar : ProgressMode::Lines;
}

bool unicode_progress_allowed(const EnvFn& env) {
  auto set = [&](const char* name) {
    const char* v = env(name);
    return v && *v;
  };
  // NO_COLOR (no-color.org) is set, whatever its value, by people who want plain terminal output.
  if (set("NO_COLOR")) return false;
  if (set("TERM") && std::string_view(env("TERM")) == "dumb") return false;
  for (const char* name : {"LC_ALL", "LC_CTYPE", "LANG"})
    if (set(name)) {
      const std::string v = lower(env(name));
      return v.find("utf-8") != std::string::npos || v.find("utf8") != std::string::npos;
    }
  return false;  // no locale at all: "C", ASCII
}

bool unicode_progress_allowed() {
  return unicode_progress_allowed([](const char* name) -> const char* { return std::getenv(name); });
}

std::string progress_bar_cells(double fraction, int width, bool unicode) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int eighths = static_cast<int>(fraction * width * 8 + 1e-9);
  const int full = eighths / 8, part = eighths % 8;
  std::string s;
  if (!unicode) {
    s.append(static_cast<size_t>(full), '#');
    s.append(static_cast<size_t>(width - full), ' ');
    return s;
  }
  // U+2588 FULL BLOCK, then U+2589..U+258F: seven, six, ... one eighth.
  static const char* const partial[8] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  for (int i = 0; i < full; ++i) s += "█";
  if (full < width) {
    s += partial[part];
    s.append(static_cast<size_t>(width - full - (part ? 1 : 0)), ' ');
  }
  return s;
}

ProgressBar::ProgressBar(ProgressMode mode)
    : ProgressBar(resolve_progress_mode(mode, ::isatty(STDERR_FILENO) != 0), unicode_progress_allowed(),
                  stderr_sink()) {}

ProgressBar::ProgressBar(ProgressMode mode, bool unicode, Sink sink)
    : mode_(mode == ProgressMode::Auto ? ProgressMode::Lines : mode), unicode_(unicode), sink_(std::move(sink)) {
  if (!sink_.write || !sink_.seconds) sink_ = stderr_sink();
  t0_ = sink_.seconds();
  // The bar shows at once; the first plain line waits its interval, so a short job logs one line.
  last_ = mode_ == ProgressMode::Lines ? t0_ : -1e300;
}

void ProgressBar::operator()(size_t done, size_t total, std::string_view item, double bytes) {
  if (mode_ == ProgressMode::None) return;
  const double now = sink_.seconds(), elapsed = now - t0_;
  const bool last = done >= total;
  const double interval = mode_ == ProgressMode::Lines ? kLineInterval : kBarInterval;
  if (!last && now - last_ < interval) return;
  last_ = now;

  const double fraction = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  std::string stats = fmt::format("{:3.0f}%", 100.0 * fraction);
  if (bytes > 0 && elapsed > 0) stats += fmt::format("  {:.2f} GB/s", bytes / elapsed / 1e9);
  if (last)
    stats += fmt::format("  {:.0f}s", elapsed);
  else if (done > 0)
    stats += fmt::format("  ETA {:.0f}s", elapsed / static_cast<double>(done) * static_cast<double>(total - done));

  if (mode_ == ProgressMode::Lines) {
    sink_.write(fmt::format("[{}/{}] {}  {}\n", done, total, item, stats));
    return;
  }
  draw_bar(done, total, item, stats);
}

void ProgressBar::draw_bar(size_t done, size_t total, std::string_view item, const std::string& stats) {
  const std::string label =
      item.size() > 44 ? std::string("...") + std::string(item.substr(item.size() - 41)) : std::string(item);
  const int digits = static_cast<int>(std::to_string(total).size());
  const double fraction = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  const std::string line = fmt::format("[{:>{}}/{}] {} {:<44} {}", done, digits, total,
                                       progress_bar_cells(fraction, 20, unicode_), label, stats);
  // Overwrite the previous line with spaces rather than an escape code.
  const size_t width = columns(line);
  std::string out = std::string("\r") + line;
  if (width < drawn_width_) out.append(drawn_width_ - width, ' ');
  drawn_width_ = std::max(drawn_width_, width);
  if (done >= total) {  // the job is over: leave a clean line for what follows
    out = std::string("\r") + std::string(drawn_width_, ' ') + "\r";
    drawn_width_ = 0;
  }
  sink_.write(out);
}

}  // namespace ctscope
