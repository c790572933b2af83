// The run journal of `analyze --journal FILE`: every finished matrix's record
// is appended and fsync'ed, so a run killed at any moment loses at most the
// matrix in flight, and a rerun with the same journal computes only what is
// missing and gives the same result (the records keep their exact bits).
//
// File: a text header (written atomically, so never torn) of two lines, the
// magic line and the run's identity as one JSON line: the model's fingerprint
// (size, mtime, hash of its ends), the build, and every setting that changes a
// number. Then the records, each: "CTSR", u64 length, the record
// (ct/matrix_record_codec), u64 FNV-1a of the record. A record cut short or
// failing its checksum (the process died while writing it) ends the journal:
// it and anything after it are cut off and computed again.
//
// The universal bases, pooled over every matrix, are not journaled: a resumed
// run pools them again (the same sums, in the same order: the same bits).
#pragma once
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "ct/model_analysis.hpp"

namespace ctscope::ct {

// The identity a journal must match: one line of JSON.
std::string journal_identity(const Checkpoint& ck, const AnalysisSettings& settings_as_planned);

class AnalysisJournal : public RecordStore {
 public:
  // Creates `file` (the header alone) when it is absent or empty; otherwise
  // reads its records. Throws Error("<file>: ...") for a file that is not a
  // journal, one of another model, build or settings, or one another run holds.
  AnalysisJournal(std::filesystem::path file, const std::string& identity);
  ~AnalysisJournal() override;
  AnalysisJournal(const AnalysisJournal&) = delete;
  AnalysisJournal& operator=(const AnalysisJournal&) = delete;

  std::optional<MatrixRecord> find(const std::string& name) override;
  void add(const MatrixRecord& r) override;  // write, then fsync; Error when the disk refuses

  size_t resumed() const { return records_.size(); }  // records read at opening
  size_t cut_bytes() const { return cut_bytes_; }     // a torn tail cut off at opening

 private:
  void read_records(const std::string& bytes, size_t start);
  std::filesystem::path file_;
  int fd_ = -1;
  std::map<std::string, MatrixRecord> records_;
  size_t cut_bytes_ = 0, added_ = 0;
};

}  // namespace ctscope::ct
