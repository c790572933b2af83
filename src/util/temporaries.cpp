#include "util/temporaries.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>

namespace ctscope {

namespace {

// Fixed storage the signal handler can read without locks or allocation.
constexpr int kSlots = 32;
constexpr size_t kPathMax = 4096;
enum SlotState : int { kFree = 0, kFilling = 1, kReady = 2 };
std::atomic<int> g_state[kSlots];
char g_path[kSlots][kPathMax];

struct Dirent64 {  // the kernel's linux_dirent64
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];
};

// Async-signal-safe removal of a file, or of a directory of files.
void remove_path(const char* path) {
  if (::unlink(path) == 0 || errno == ENOENT) return;
  const int fd = ::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  alignas(8) char buf[4096];
  for (int pass = 0; pass < 2; ++pass) {  // unlinking while reading may skip entries: read again
    ::lseek(fd, 0, SEEK_SET);
    for (long n; (n = ::syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0;)
      for (long off = 0; off < n;) {
        const auto* d = reinterpret_cast<const Dirent64*>(buf + off);
        if (std::strcmp(d->d_name, ".") != 0 && std::strcmp(d->d_name, "..") != 0) ::unlinkat(fd, d->d_name, 0);
        off += d->d_reclen;
      }
  }
  ::close(fd);
  ::rmdir(path);
}

void on_signal(int sig) {
  for (int i = 0; i < kSlots; ++i)
    if (g_state[i].load() == kReady) remove_path(g_path[i]);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

bool process_alive(long pid) { return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH; }

}  // namespace

TemporaryRegistration::TemporaryRegistration(const std::filesystem::path& path) {
  const std::string s = path.string();
  if (s.size() >= kPathMax) return;
  for (int i = 0; i < kSlots; ++i) {
    int expected = kFree;
    if (g_state[i].compare_exchange_strong(expected, kFilling)) {
      std::memcpy(g_path[i], s.c_str(), s.size() + 1);
      g_state[i].store(kReady);
      slot_ = i;
      return;
    }
  }
}

TemporaryRegistration::~TemporaryRegistration() {
  if (slot_ >= 0) g_state[slot_].store(kFree);
}

void remove_temporaries_on_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  std::signal(SIGXFSZ, SIG_IGN);
}

void remove_stale_temporaries(const std::filesystem::path& target) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string name = target.filename().string();
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string f = e.path().filename().string();
    for (const char* sep : {".tmp.", ".tmp-", ".old-"}) {
      const std::string prefix = name + sep;
      if (f.size() <= prefix.size() || f.compare(0, prefix.size(), prefix) != 0) continue;
      const std::string pid = f.substr(prefix.size());
      if (pid.find_first_not_of("0123456789") != std::string::npos || pid.size() > 9) continue;
      if (process_alive(std::stol(pid))) continue;
      // "OUT.old-PID" is the previous output, moved aside just before the new
      // one was to take its name: if the process died in between, it goes back.
      if (std::strcmp(sep, ".old-") == 0 && !fs::exists(fs::symlink_status(target, ec))) fs::rename(e.path(), target, ec);
      else fs::remove_all(e.path(), ec);
    }
  }
}

}  // namespace ctscope
