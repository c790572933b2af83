// analyze streams: its peak memory must not grow with the number of layers.
// The same shapes with 2 and 10 blocks (F32, so that keeping the weights'
// pages or per-tensor buffers would show as tens of MB) are analyzed in child
// processes and their ru_maxrss compared. No timing.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "synth/synth.hpp"
#include "test_support.hpp"

using namespace ctscope;
namespace fs = std::filesystem;

namespace {

// Peak RSS in MB of `ctscope analyze MODEL --K 4,16 -q` in a child process.
double analyze_peak_rss_mb(const fs::path& model) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string m = model.string();
    ::execl(CTSCOPE_BINARY, CTSCOPE_BINARY, "analyze", m.c_str(), "--K", "4,16", "-q", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  struct rusage ru {};
  if (::wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

}  // namespace

TEST(AnalyzeMemory, PeakDoesNotGrowWithLayers) {
#if defined(__SANITIZE_ADDRESS__)
  // ASan keeps freed blocks in quarantine and adds shadow pages, so the
  // child's peak measures the sanitizer; the Release run checks ctscope's.
  GTEST_SKIP() << "peak RSS is not ctscope's under AddressSanitizer (checked in the Release build)";
#endif
  test_support::TempDir dir("mem");
  SynthOptions o;
  o.preset = "small";
  o.dtype = DType::F32;
  o.force = true;
  o.layers = 2;
  const SynthResult small = synth_checkpoint(dir / "l2", o);
  o.layers = 10;
  const SynthResult big = synth_checkpoint(dir / "l10", o);
  const double extra_mb = static_cast<double>(big.bytes - small.bytes) / 1e6;
  ASSERT_GT(extra_mb, 20.0) << "the test needs the extra layers to weigh more than the noise";
  const double rss2 = analyze_peak_rss_mb(dir / "l2"), rss10 = analyze_peak_rss_mb(dir / "l10");
  ASSERT_GT(rss2, 0);
  ASSERT_GT(rss10, 0);
  // Holding the extra layers' pages (or one buffer per tensor) would add extra_mb.
  EXPECT_LT(rss10 - rss2, extra_mb / 3) << "2 layers: " << rss2 << " MB, 10 layers: " << rss10 << " MB, the extra "
                                        << "layers hold " << extra_mb << " MB";
}
