#include "util/atomic_file.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "util/error.hpp"

namespace ctscope {

namespace {

// Test hook: with CTSCOPE_TEST_KILL_AT=N in the environment the process kills
// itself (SIGKILL: no handler, no cleanup - a crash or a kill -9) at the Nth
// step of writing outputs, so that a test (tests/test_write_faults.cpp) can end a
// run at each point where a crash could leave a partial output. The steps: a
// temporary created, its first write, the moment before its rename (written and
// fsynced) and the moment after; for a directory, created, before and after the
// swap. Unset (always, outside tests): one getenv per process.
void write_step() {
  static const long kill_at = [] {
    const char* e = std::getenv("CTSCOPE_TEST_KILL_AT");
    return e ? std::atol(e) : 0L;
  }();
  static std::atomic<long> steps{0};
  if (kill_at > 0 && ++steps == kill_at) ::kill(::getpid(), SIGKILL);
}

std::filesystem::path temporary_name(const std::filesystem::path& path, const char* sep) {
  std::filesystem::path tmp = path;
  tmp += sep + std::to_string(::getpid());
  return tmp;
}
// How the user knows a path: a file inside one of this process's temporary
// directories ("OUT.tmp-PID/model.safetensors") is shown as "OUT/model.safetensors".
std::string shown_path(const std::filesystem::path& path) {
  const std::string parent = path.parent_path().filename().string(), tag = ".tmp-" + std::to_string(::getpid());
  if (parent.size() > tag.size() && parent.compare(parent.size() - tag.size(), tag.size(), tag) == 0)
    return (path.parent_path().parent_path() / parent.substr(0, parent.size() - tag.size()) / path.filename()).string();
  return path.string();
}

// The directory entry of a renamed file reaches the disk with the directory's fsync.
void sync_directory(const std::filesystem::path& path) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// The descriptor a name stands for: "-" and /dev/stdout are 1, /dev/stderr 2,
// /dev/fd/N and /proc/self/fd/N are N. Such names are links into /proc that
// end at whatever the descriptor holds - a pipe, a terminal, the file of a
// shell's `> out` - which must be written through the descriptor, never replaced.
std::optional<int> descriptor_name(const std::filesystem::path& path) {
  const std::string& s = path.native();
  if (s == "-" || s == "/dev/stdout") return STDOUT_FILENO;
  if (s == "/dev/stderr") return STDERR_FILENO;
  for (std::string_view prefix : {"/dev/fd/", "/proc/self/fd/"})
    if (s.size() > prefix.size() && s.compare(0, prefix.size(), prefix) == 0) {
      int fd = -1;
      const char *begin = s.data() + prefix.size(), *end = s.data() + s.size();
      const auto [p, ec] = std::from_chars(begin, end, fd);
      if (ec == std::errc() && p == end && fd >= 0) return fd;
    }
  return std::nullopt;
}

// The file's mode (permissions) carried over to its replacement, as editors
// and sed -i do: replacing a file does not make it world-readable or drop its x bit.
void keep_mode(const std::filesystem::path& target, std::FILE* f) {
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ::fchmod(::fileno(f), st.st_mode & 07777);
}

// `path` with its symbolic links followed (not the directories above it:
// the temporary goes beside the final file), stopping at a descriptor name.
std::filesystem::path follow_links(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  fs::path p = path;
  for (int links = 0; !descriptor_name(p); ++links) {
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(p, ec))) break;
    if (links == 40) fail(path.string(), "too many levels of symbolic links");
    const fs::path to = fs::read_symlink(p, ec);
    if (ec) fail(path.string(), "cannot read the link {}: {}", p.string(), ec.message());
    p = to.is_absolute() ? to : p.parent_path() / to;
  }
  return p;
}

int g_stdout_output_fd = STDOUT_FILENO;

}  // namespace

bool is_stdout_name(const std::filesystem::path& path) { return descriptor_name(path) == STDOUT_FILENO; }

int stdout_output_fd() { return g_stdout_output_fd; }

void reserve_stdout_for_output() {
  if (g_stdout_output_fd != STDOUT_FILENO) return;  // done already
  std::fflush(stdout);
  const int kept = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (kept < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
    fail("standard output", "cannot redirect: {}", std::strerror(errno));
  g_stdout_output_fd = kept;
}

OutputTarget resolve_output(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  const fs::path p = follow_links(path);
  if (const auto fd = descriptor_name(p)) {
    const int real = *fd == STDOUT_FILENO ? stdout_output_fd() : *fd;
    if (::fcntl(real, F_GETFD) < 0) fail(path.string(), "descriptor {} is not open", *fd);
    return {OutputTarget::Kind::Descriptor, p, real};
  }
  std::error_code ec;
  const fs::file_status st = fs::status(p, ec);
  if (fs::is_directory(st)) fail(path.string(), "is a directory, not a file");
  if (fs::exists(st) && !fs::is_regular_file(st)) return {OutputTarget::Kind::Direct, p};
  return {OutputTarget::Kind::Replace, p};
}

AtomicFile::AtomicFile(std::filesystem::path path)
    : path_(std::move(path)),
      shown_(path_ == "-" ? std::string("standard output") : shown_path(path_)),
      target_(resolve_output(path_)) {
  if (target_.kind == OutputTarget::Kind::Descriptor) {
    const int fd = ::fcntl(target_.fd, F_DUPFD_CLOEXEC, 3);
    if (fd >= 0) f_ = ::fdopen(fd, "wb");
    if (!f_) {
      if (fd >= 0) ::close(fd);
      fail(shown_, "cannot write: {}", std::strerror(errno));
    }
    return;
  }
  if (target_.kind == OutputTarget::Kind::Direct) {
    f_ = std::fopen(target_.path.c_str(), "wb");
    if (!f_) fail(shown_, "cannot write: {}", std::strerror(errno));
    return;
  }
  tmp_ = temporary_name(target_.path, ".tmp.");
  registration_.emplace(tmp_);
  remove_stale_temporaries(target_.path);
  f_ = std::fopen(tmp_.c_str(), "wb");
  if (!f_) fail(shown_, "cannot write: {}", std::strerror(errno));
  keep_mode(target_.path, f_);
  write_step();
}

AtomicFile::~AtomicFile() {
  if (f_) std::fclose(f_);
  if (!committed_ && !tmp_.empty()) {
    std::error_code ec;
    std::filesystem::remove(tmp_, ec);
  }
}

void AtomicFile::write(const void* data, size_t n) {
  if (n == 0) return;
  if (std::fwrite(data, 1, n, f_) != n) fail(shown_, "write failed: {}", std::strerror(errno));
  if (written_ == 0 && !tmp_.empty()) write_step();
  written_ += n;
}

void AtomicFile::commit(const std::function<void(const std::filesystem::path&)>& check) {
  if (target_.kind != OutputTarget::Kind::Replace) {
    const bool flushed = std::fflush(f_) == 0;
    const int err = errno;
    const bool closed = std::fclose(f_) == 0;
    f_ = nullptr;
    if (!flushed || !closed) fail(shown_, "write failed: {}", std::strerror(flushed ? errno : err));
    committed_ = true;
    return;
  }
  // On disk before it has the final name (a crash then leaves the old file or the new, complete one).
  if (std::fflush(f_) != 0 || ::fsync(::fileno(f_)) != 0 || std::fclose(f_) != 0) {
    f_ = nullptr;
    fail(shown_, "write failed: {}", std::strerror(errno));
  }
  f_ = nullptr;
  if (check) check(tmp_);  // throws: the temporary goes, the target is untouched
  write_step();
  std::error_code ec;
  std::filesystem::rename(tmp_, target_.path, ec);
  if (ec) fail(shown_, "cannot rename into place: {}", ec.message());
  committed_ = true;
  write_step();
  sync_directory(target_.path);
}

namespace {
// "out/" names the directory out: its temporary goes beside it ("out.tmp-PID"),
// not inside it, where the swap could never happen.
std::filesystem::path without_trailing_slash(const std::filesystem::path& path) {
  const std::filesystem::path p = path.lexically_normal();
  return !p.has_filename() && p.has_relative_path() ? p.parent_path() : p;
}
}  // namespace

AtomicDir::AtomicDir(std::filesystem::path path)
    : path_(follow_links(without_trailing_slash(path))), tmp_(temporary_name(path_, ".tmp-")), registration_(tmp_) {
  remove_stale_temporaries(path_);
  std::error_code ec;
  std::filesystem::remove_all(tmp_, ec);
  if (!std::filesystem::create_directories(tmp_, ec) || ec)
    fail(path_.string(), "cannot create directory {}: {}", tmp_.string(), ec.message());
  write_step();
}

AtomicDir::~AtomicDir() {
  if (!committed_) {
    std::error_code ec;
    std::filesystem::remove_all(tmp_, ec);
  }
}

void AtomicDir::commit() {
  namespace fs = std::filesystem;
  std::error_code ec;
  write_step();
  // Replacing: swap the two directories in one step, so `path` is at every
  // moment the old or the new directory, even if the process is killed.
  if (fs::exists(fs::symlink_status(path_, ec)) &&
      ::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, path_.c_str(), RENAME_EXCHANGE) == 0) {
    committed_ = true;
    write_step();
    sync_directory(path_);
    fs::remove_all(tmp_, ec);  // now the old directory
    return;
  }
  // No exchange on this filesystem (or nothing to replace): move aside, rename in.
  fs::path old;
  if (fs::exists(fs::symlink_status(path_, ec))) {
    old = path_;
    old += ".old-" + std::to_string(::getpid());
    fs::rename(path_, old, ec);
    if (ec) fail(path_.string(), "cannot move the old directory aside: {}", ec.message());
    write_step();  // killed here, the next run puts the old directory back (remove_stale_temporaries)
  }
  fs::rename(tmp_, path_, ec);
  if (ec) {
    std::error_code ec2;
    if (!old.empty()) fs::rename(old, path_, ec2);
    fail(path_.string(), "cannot rename into place: {}", ec.message());
  }
  committed_ = true;
  write_step();
  sync_directory(path_);
  if (!old.empty()) fs::remove_all(old, ec);
}

void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  AtomicFile f(path);
  f.write(content);
  f.commit();
}

void check_writable(const std::filesystem::path& path) {
  const OutputTarget t = resolve_output(path);
  if (t.kind == OutputTarget::Kind::Descriptor) return;
  if (t.kind == OutputTarget::Kind::Direct) {
    if (::access(t.path.c_str(), W_OK) != 0) fail(path.string(), "cannot write: {}", std::strerror(errno));
    return;
  }
  AtomicFile probe(path);  // throws if the directory is missing or read-only; removed on scope exit
}

void check_not_an_input(const std::filesystem::path& output, const std::vector<std::filesystem::path>& inputs) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (descriptor_name(output) || !fs::exists(output, ec)) return;
  const fs::path out = fs::canonical(output, ec);
  for (const auto& in : inputs) {
    const fs::path inp = fs::canonical(in, ec);
    if (ec) continue;
    const auto rel = inp.lexically_relative(out);
    if (inp == out || (!rel.empty() && *rel.begin() != ".."))
      fail(output.string(), "refusing to write over the input {}", in.string());
  }
}

void check_output_dir(const std::filesystem::path& path, bool force) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (descriptor_name(path))
    fail(path.string(), "a checkpoint directory cannot be written to a stream: name a directory");
  if (!fs::exists(fs::symlink_status(path, ec))) return;
  if (!force) fail(path.string(), "already exists (use --force to replace it)");
  if (!fs::is_directory(path, ec) || !(fs::is_empty(path, ec) || fs::exists(path / "config.json", ec)))
    fail(path.string(), "refusing to replace: not an empty or checkpoint directory");
}

}  // namespace ctscope
