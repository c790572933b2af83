// Progress of a long job (analyze, compress, synth, eval...): the one way every
// command shows it. Library code reports through a ProgressFn and never prints;
// the command decides how that is shown.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ctscope {

// `done` of `total` items finished; `item` names the last one (a tensor, or a
// short status such as "ppl 3.5961"); `bytes` read so far (0: not tracked).
using ProgressFn = std::function<void(size_t done, size_t total, std::string_view item, double bytes)>;

// How progress is shown (--progress): Auto is a bar on a terminal and plain
// lines anywhere else (a log, a pipe, CI), so a redirected run still leaves a
// record, without control characters.
enum class ProgressMode { Auto, Bar, Lines, None };
std::optional<ProgressMode> progress_mode_from_name(std::string_view name);  // "auto", "bar", "lines", "none"
// Auto settled against where stderr goes; the other modes as asked.
ProgressMode resolve_progress_mode(ProgressMode asked, bool stderr_is_terminal);

// Whether the bar may draw with Unicode block characters: the locale's
// character set is UTF-8 (the first of LC_ALL, LC_CTYPE, LANG that is set and
// not empty, as setlocale reads them) and neither NO_COLOR nor TERM=dumb asks
// for plain output. Otherwise the bar is ASCII.
using EnvFn = std::function<const char*(const char*)>;
bool unicode_progress_allowed(const EnvFn& env);
bool unicode_progress_allowed();  // from the process environment

// "████▌     " (Unicode, eighths of a cell) or "####      " (ASCII): `fraction`
// of `width` cells filled.
std::string progress_bar_cells(double fraction, int width, bool unicode);

// Renders progress on stderr (or a sink, for tests). Bar: one line rewritten
// in place, "[ 37/155] ████▌      24% model.layers.5.mlp.up_proj.weight
// 1.80 GB/s  ETA 7s", erased when the job ends; only \r and spaces, no escape
// codes, so a dumb terminal shows it too. Lines: "[37/155] model.layers.5...
// 24%  1.80 GB/s  ETA 7s" once every kLineInterval seconds, and the final one.
class ProgressBar {
 public:
  static constexpr double kLineInterval = 5.0;  // seconds between plain lines
  static constexpr double kBarInterval = 0.1;   // seconds between redraws of the bar

  // Where progress is written and what time it is; the defaults are stderr and
  // the steady clock.
  struct Sink {
    std::function<void(std::string_view)> write;
    std::function<double()> seconds;
  };

  // Auto settled against stderr; the bar's characters from the environment.
  explicit ProgressBar(ProgressMode mode);
  explicit ProgressBar(bool enabled) : ProgressBar(enabled ? ProgressMode::Auto : ProgressMode::None) {}
  // A settled mode (not Auto) into `sink`: for tests.
  ProgressBar(ProgressMode mode, bool unicode, Sink sink);

  void operator()(size_t done, size_t total, std::string_view item, double bytes = 0);
  ProgressFn fn() { return std::ref(*this); }
  ProgressMode mode() const { return mode_; }

 private:
  void draw_bar(size_t done, size_t total, std::string_view item, const std::string& stats);
  ProgressMode mode_;
  bool unicode_;
  Sink sink_;
  double t0_ = 0, last_ = 0;  // start, and the last line or redraw
  size_t drawn_width_ = 0;          // characters of the bar line now on screen
};

}  // namespace ctscope
