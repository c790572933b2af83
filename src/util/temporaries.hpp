// The temporaries of atomic outputs ("OUT.tmp.PID" files, "OUT.tmp-PID"
// directories) must not outlive their process: registered while they exist,
// removed when a catchable signal ends the process, and - for a process that
// was killed outright - removed by the next run that writes the same output.
#pragma once
#include <filesystem>

namespace ctscope {

// Registers a temporary file or directory (of files) for removal on a signal,
// until destroyed.
class TemporaryRegistration {
 public:
  explicit TemporaryRegistration(const std::filesystem::path& path);
  ~TemporaryRegistration();
  TemporaryRegistration(const TemporaryRegistration&) = delete;
  TemporaryRegistration& operator=(const TemporaryRegistration&) = delete;

 private:
  int slot_ = -1;  // -1: not registered (more temporaries at once than slots)
};

// For programs, not libraries: SIGINT, SIGTERM and SIGHUP remove every
// registered temporary, then end the process as the signal would; SIGXFSZ is
// ignored, so a file-size limit is a write error (one line), not a kill.
void remove_temporaries_on_signals();

// Removes "<target>.tmp.<pid>" and "<target>.tmp-<pid>" beside target whose
// process no longer runs (left by a kill -9); a "<target>.old-<pid>" of such a
// process (a directory moved aside for its replacement) is put back when target
// is missing, else removed.
void remove_stale_temporaries(const std::filesystem::path& target);

}  // namespace ctscope
