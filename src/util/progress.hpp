// Progress of a long job (analyze, compress, synth, eval...): the one way every
// command shows it. Library code reports through a ProgressFn and never prints;
// the command decides how that is shown.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <string_view>

namespace ctscope {

// `done` of `total` items finished; `item` names the last one (a tensor, or a
// short status such as "ppl 3.5961"); `bytes` read so far (0: not tracked).
using ProgressFn = std::function<void(size_t done, size_t total, std::string_view item, double bytes)>;

// Renders progress on stderr. On a terminal: one line rewritten in place,
// "[ 37/155]  24% model.layers.5.mlp.up_proj.weight  1.80 GB/s  ETA 7s",
// cleared when the job ends. Elsewhere (a log, a pipe) nothing, or with
// `log_lines` one plain line per update ("[37/155] ppl 3.5961"), so piped runs
// keep a record without terminal control codes.
class ProgressBar {
 public:
  enum class Piped { Silent, LogLines };
  explicit ProgressBar(bool enabled, Piped piped = Piped::Silent);
  void operator()(size_t done, size_t total, std::string_view item, double bytes = 0);
  ProgressFn fn() { return std::ref(*this); }

 private:
  bool tty_ = false, log_ = false;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace ctscope
