#include "util/atomic_file.hpp"

#include <fcntl.h>
#include <stdio.h>

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.hpp"

namespace ctscope {

namespace {
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

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path path)
    : path_(std::move(path)), shown_(shown_path(path_)), tmp_(temporary_name(path_, ".tmp.")), registration_(tmp_) {
  remove_stale_temporaries(path_);
  f_ = std::fopen(tmp_.c_str(), "wb");
  if (!f_) fail(shown_, "cannot write: {}", std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (f_) std::fclose(f_);
  if (!committed_) {
    std::error_code ec;
    std::filesystem::remove(tmp_, ec);
  }
}

void AtomicFile::write(const void* data, size_t n) {
  if (n == 0) return;
  if (std::fwrite(data, 1, n, f_) != n) fail(shown_, "write failed: {}", std::strerror(errno));
  written_ += n;
}

void AtomicFile::commit(const std::function<void(const std::filesystem::path&)>& check) {
  // On disk before it has the final name (a crash then leaves the old file or the new, complete one).
  if (std::fflush(f_) != 0 || ::fsync(::fileno(f_)) != 0 || std::fclose(f_) != 0) {
    f_ = nullptr;
    fail(shown_, "write failed: {}", std::strerror(errno));
  }
  f_ = nullptr;
  if (check) check(tmp_);  // throws: the temporary goes, the target is untouched
  std::error_code ec;
  std::filesystem::rename(tmp_, path_, ec);
  if (ec) fail(shown_, "cannot rename into place: {}", ec.message());
  committed_ = true;
  sync_directory(path_);
}

AtomicDir::AtomicDir(std::filesystem::path path)
    : path_(std::move(path)), tmp_(temporary_name(path_, ".tmp-")), registration_(tmp_) {
  remove_stale_temporaries(path_);
  std::error_code ec;
  std::filesystem::remove_all(tmp_, ec);
  if (!std::filesystem::create_directories(tmp_, ec) || ec)
    fail(path_.string(), "cannot create directory {}: {}", tmp_.string(), ec.message());
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
  // Replacing: swap the two directories in one step, so `path` is at every
  // moment the old or the new directory, even if the process is killed.
  if (fs::exists(fs::symlink_status(path_, ec)) &&
      ::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, path_.c_str(), RENAME_EXCHANGE) == 0) {
    committed_ = true;
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
  }
  fs::rename(tmp_, path_, ec);
  if (ec) {
    std::error_code ec2;
    if (!old.empty()) fs::rename(old, path_, ec2);
    fail(path_.string(), "cannot rename into place: {}", ec.message());
  }
  committed_ = true;
  sync_directory(path_);
  if (!old.empty()) fs::remove_all(old, ec);
}

void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  AtomicFile f(path);
  f.write(content);
  f.commit();
}

void check_writable(const std::filesystem::path& path) {
  AtomicFile probe(path);  // throws if the directory is missing or read-only; removed on scope exit
}

void check_not_an_input(const std::filesystem::path& output, const std::vector<std::filesystem::path>& inputs) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(output, ec)) return;
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
  if (!fs::exists(fs::symlink_status(path, ec))) return;
  if (!force) fail(path.string(), "already exists (use --force to replace it)");
  if (!fs::is_directory(path, ec) || !(fs::is_empty(path, ec) || fs::exists(path / "config.json", ec)))
    fail(path.string(), "refusing to replace: not an empty or checkpoint directory");
}

}  // namespace ctscope
