// Outputs are written atomically: to a temporary file beside the target, fsynced
// and renamed over it on commit(). If anything throws before commit(), the temporary is
// removed and the target is untouched - never a partial output file.
#pragma once
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "util/temporaries.hpp"

namespace ctscope {

class AtomicFile {
 public:
  // Opens "<path>.tmp.<pid>" for writing; throws Error naming path if that fails,
  // so an unwritable output is reported before any long computation starts.
  explicit AtomicFile(std::filesystem::path path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  uint64_t bytes_written() const { return written_; }
  // Flush and fsync, run `check` on the finished temporary (a throw leaves the
  // target untouched), rename into place, fsync the directory.
  void commit(const std::function<void(const std::filesystem::path&)>& check = {});
  const std::filesystem::path& path() const { return path_; }
  // The path as errors name it: the final one for files inside an AtomicDir.
  const std::string& shown() const { return shown_; }

 private:
  std::filesystem::path path_;
  std::string shown_;
  std::filesystem::path tmp_;
  TemporaryRegistration registration_;
  std::FILE* f_ = nullptr;
  uint64_t written_ = 0;
  bool committed_ = false;
};

// A directory written the same way: filled at "<path>.tmp-<pid>", swapped in
// by commit() with one renameat2(RENAME_EXCHANGE) where the filesystem has it
// (else the old one is moved aside first), so `path` is at every moment the
// old or the new complete directory. Removed if anything throws before
// commit(). Whether an existing `path` may be replaced is the caller's
// decision (check_output_dir), made before.
class AtomicDir {
 public:
  explicit AtomicDir(std::filesystem::path path);  // throws Error naming path if the directory cannot be made
  ~AtomicDir();
  AtomicDir(const AtomicDir&) = delete;
  AtomicDir& operator=(const AtomicDir&) = delete;
  const std::filesystem::path& tmp() const { return tmp_; }  // where to write
  void commit();

 private:
  std::filesystem::path path_, tmp_;
  TemporaryRegistration registration_;
  bool committed_ = false;
};

// Convenience: whole-string atomic write.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

// Fail early (before a long run) if `path` cannot be created: creates and removes a temp file.
void check_writable(const std::filesystem::path& path);

// Error naming `output` when it is one of `inputs`, or a directory holding
// one: writing it would destroy what is being read.
void check_not_an_input(const std::filesystem::path& output, const std::vector<std::filesystem::path>& inputs);

// An output directory a command may fill: absent, or with `force` an empty
// directory or a checkpoint directory (config.json inside) - never a file or
// any other directory. Error naming the path otherwise.
void check_output_dir(const std::filesystem::path& path, bool force);

}  // namespace ctscope
