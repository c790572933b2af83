#include "util/progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <string>

#include <fmt/format.h>

namespace ctscope {

ProgressBar::ProgressBar(bool enabled, Piped piped) : t0_(std::chrono::steady_clock::now()) {
  if (!enabled) return;
  tty_ = ::isatty(STDERR_FILENO) != 0;
  log_ = !tty_ && piped == Piped::LogLines;
}

void ProgressBar::operator()(size_t done, size_t total, std::string_view item, double bytes) {
  if (log_) {
    std::fprintf(stderr, "[%zu/%zu] %.*s\n", done, total, static_cast<int>(item.size()), item.data());
    return;
  }
  if (!tty_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  const double eta = done ? elapsed / static_cast<double>(done) * static_cast<double>(total - done) : 0;
  std::string label(item.size() > 44 ? "..." + std::string(item.substr(item.size() - 41)) : std::string(item));
  const std::string rate = bytes > 0 && elapsed > 0 ? fmt::format("{:5.2f} GB/s  ", bytes / elapsed / 1e9) : "";
  std::fprintf(stderr, "\r\033[K[%*zu/%zu] %3.0f%% %-44s %sETA %.0fs", static_cast<int>(std::to_string(total).size()),
               done, total, total ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0,
               label.c_str(), rate.c_str(), eta);
  if (done >= total) std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

}  // namespace ctscope
