// Outputs go where the user points, and never half-written:
//  - "-", /dev/stdout, /dev/stderr, /dev/fd/N: written to that descriptor as is
//    (a shell's `> file` or `>> log` keeps its meaning);
//  - a symbolic link is followed: its target is the output;
//  - an existing file that is not a regular file (a FIFO, /dev/null, a
//    character device) is opened and written directly - replacing it would
//    destroy it;
//  - a regular file, or a name not yet taken, is written atomically: to a
//    temporary file beside it, fsynced and renamed over it on commit(). If
//    anything throws before commit(), the temporary is removed and the target
//    is untouched - never a partial output file.
#pragma once
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/temporaries.hpp"

namespace ctscope {

// Where an output named `path` is written (the rules above).
struct OutputTarget {
  enum class Kind {
    Descriptor,  // an open file descriptor: "-" (standard output), /dev/stdout, /dev/fd/N
    Direct,      // an existing file that is not a regular file, opened and written as is
    Replace,     // a regular file or a new name: temporary + rename
  };
  Kind kind = Kind::Replace;
  std::filesystem::path path;  // Direct, Replace: the file itself, symbolic links followed
  int fd = -1;                 // Descriptor
};
// Throws Error naming `path` for a loop of links or a descriptor that is not open.
OutputTarget resolve_output(const std::filesystem::path& path);
// Whether `path` names standard output ("-", /dev/stdout, /dev/fd/1, /proc/self/fd/1).
bool is_stdout_name(const std::filesystem::path& path);

// The descriptor standard-output outputs ("-") are written to: 1, unless
// reserve_stdout_for_output() moved everything else off it.
int stdout_output_fd();
// For a command that writes an output to "-": keeps the present standard
// output for that output alone and points descriptor 1 at stderr, so the
// command's report and notes cannot mix into it. Call before printing.
void reserve_stdout_for_output();

class AtomicFile {
 public:
  // Opens the output for writing (for Replace, "<target>.tmp.<pid>"); throws
  // Error naming path if that fails, so an unwritable output is reported
  // before any long computation starts.
  explicit AtomicFile(std::filesystem::path path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  uint64_t bytes_written() const { return written_; }
  // Flush and fsync, run `check` on the finished temporary (a throw leaves the
  // target untouched), rename into place, fsync the directory. A Descriptor or
  // Direct output is only flushed: it has been written in place, and what was
  // sent into a pipe cannot be read back, so `check` does not run.
  void commit(const std::function<void(const std::filesystem::path&)>& check = {});
  const std::filesystem::path& path() const { return path_; }
  OutputTarget::Kind kind() const { return target_.kind; }
  // The path as errors name it: the final one for files inside an AtomicDir.
  const std::string& shown() const { return shown_; }

 private:
  std::filesystem::path path_;
  std::string shown_;
  OutputTarget target_;
  std::filesystem::path tmp_;  // Replace only
  std::optional<TemporaryRegistration> registration_;
  std::FILE* f_ = nullptr;
  uint64_t written_ = 0;
  bool committed_ = false;
};

// A directory written the same way: a symbolic link is followed (its target is
// replaced), filled at "<target>.tmp-<pid>", swapped in
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

// Fail early (before a long run) if `path` cannot be written: for a file to
// replace, creates and removes a temporary beside it; a FIFO or device is only
// checked for permission (opening a FIFO would wait for its reader).
void check_writable(const std::filesystem::path& path);

// Error naming `output` when it is one of `inputs`, or a directory holding
// one: writing it would destroy what is being read.
void check_not_an_input(const std::filesystem::path& output, const std::vector<std::filesystem::path>& inputs);

// An output directory a command may fill: absent, or with `force` an empty
// directory or a checkpoint directory (config.json inside) - never a file,
// standard output ("-") or any other directory. Error naming the path otherwise.
void check_output_dir(const std::filesystem::path& path, bool force);

}  // namespace ctscope
