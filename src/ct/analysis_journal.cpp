#include "ct/analysis_journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "ct/matrix_record_codec.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/file_fingerprint.hpp"
#include "util/version.hpp"

namespace ctscope::ct {

namespace {

constexpr std::string_view kMagicLine = "ctscope analyze journal 1\n";
constexpr char kRecordMagic[4] = {'C', 'T', 'S', 'R'};
constexpr size_t kFrameBytes = sizeof(kRecordMagic) + 2 * sizeof(uint64_t);

uint64_t read_u64(const std::string& bytes, size_t at) {
  uint64_t v;
  std::memcpy(&v, bytes.data() + at, sizeof v);
  return v;
}

std::string frame(const std::string& payload) {
  std::string out(kRecordMagic, sizeof kRecordMagic);
  const uint64_t len = payload.size(), sum = fnv1a64(payload);
  out.append(reinterpret_cast<const char*>(&len), sizeof len);
  out += payload;
  out.append(reinterpret_cast<const char*>(&sum), sizeof sum);
  return out;
}

// Which part of two identities differs, in words.
std::string difference(const std::string& mine, const std::string& theirs) {
  nlohmann::json a, b;
  try {
    a = nlohmann::json::parse(mine);
    b = nlohmann::json::parse(theirs);
  } catch (const nlohmann::json::exception&) {
    return "its header is not a run identity";
  }
  if (a.value("model", nlohmann::json()) != b.value("model", nlohmann::json()))
    return fmt::format("it is of another model file (journal: {}; now: {})", b.value("model", nlohmann::json()).dump(),
                       a["model"].dump());
  if (a.value("settings", nlohmann::json()) != b.value("settings", nlohmann::json())) {
    std::string diff;  // only the settings that differ
    for (const auto& [key, now] : a["settings"].items()) {
      const nlohmann::json then = b["settings"].value(key, nlohmann::json());
      if (then != now) diff += fmt::format("{}{} {} in the journal, {} now", diff.empty() ? "" : "; ", key, then.dump(), now.dump());
    }
    return "it is of other settings (" + diff + ")";
  }
  return fmt::format("it is of another ctscope build (journal: {}; now: {})", b.value("tool", nlohmann::json()).dump(),
                     a["tool"].dump());
}

// A test hook: SIGKILL after this many records were added (CTSCOPE_TEST_KILL_AFTER_RECORDS=N),
// so that tests can stop a run at a known point, as a user's kill -9 would.
size_t kill_after_records() {
  const char* v = std::getenv("CTSCOPE_TEST_KILL_AFTER_RECORDS");
  return v ? static_cast<size_t>(std::strtoull(v, nullptr, 10)) : 0;
}

}  // namespace

std::string journal_identity(const Checkpoint& ck, const AnalysisSettings& s) {
  nlohmann::json model = nlohmann::json::array();
  for (const FileFingerprint& f : fingerprint_input(ck.path))
    model.push_back({{"file", std::filesystem::path(f.path).filename().string()}, {"size_bytes", f.size_bytes},
                     {"mtime_utc", f.mtime_utc}, {"fnv1a64", hex64(f.fnv1a64)}});
  nlohmann::json bases = nlohmann::json::array();
  for (auto b : s.bases) bases.push_back(basis_name(b));
  const nlohmann::json id = {
      {"tool", version_line()},
      {"model", model},
      {"settings",
       {{"K", s.Ks}, {"bases", bases}, {"svd_baseline", s.svd_baseline}, {"spectrum", s.spectrum}, {"seed", s.seed},
        {"preset", s.selection.preset}, {"include", s.selection.include}, {"exclude", s.selection.exclude},
        {"roles", s.selection.roles}, {"layers", s.selection.layers}}}};
  return id.dump();
}

AnalysisJournal::AnalysisJournal(std::filesystem::path file, const std::string& identity) : file_(std::move(file)) {
  const std::string where = file_.string();
  const std::string header = std::string(kMagicLine) + identity + "\n";
  std::error_code ec;
  if (!std::filesystem::exists(file_, ec) || std::filesystem::file_size(file_, ec) == 0)
    write_file_atomic(file_, header);  // never torn: a journal always starts whole
  fd_ = ::open(file_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) fail(where, "cannot open the journal: {}", std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
    fail(where, "the journal is in use by another run");
  }
  std::ifstream in(file_, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t line_end = bytes.find('\n', kMagicLine.size());
  if (bytes.compare(0, kMagicLine.size(), kMagicLine) != 0 || line_end == std::string::npos) {
    ::close(fd_);
    fd_ = -1;
    fail(where, "not a ctscope analyze journal (give a new file, or the journal of this run)");
  }
  const std::string theirs = bytes.substr(kMagicLine.size(), line_end - kMagicLine.size());
  if (theirs != identity) {
    ::close(fd_);
    fd_ = -1;
    fail(where, "the journal is of another run: {}; give a new file to start over", difference(identity, theirs));
  }
  read_records(bytes, line_end + 1);
}

void AnalysisJournal::read_records(const std::string& bytes, size_t at) {
  while (at < bytes.size()) {
    if (bytes.size() - at < kFrameBytes || bytes.compare(at, sizeof kRecordMagic, kRecordMagic, sizeof kRecordMagic))
      break;
    const uint64_t len = read_u64(bytes, at + sizeof kRecordMagic);
    if (len > bytes.size() - at - kFrameBytes) break;
    const std::string payload = bytes.substr(at + sizeof kRecordMagic + sizeof len, len);
    if (read_u64(bytes, at + sizeof kRecordMagic + sizeof len + len) != fnv1a64(payload)) break;
    try {
      MatrixRecord r = decode_record(payload);
      records_[r.name] = std::move(r);
    } catch (const Error&) {
      break;
    }
    at += kFrameBytes + len;
  }
  cut_bytes_ = bytes.size() - at;
  if (cut_bytes_ > 0 && ::ftruncate(fd_, static_cast<off_t>(at)) != 0)
    fail(file_.string(), "cannot cut off the torn last record: {}", std::strerror(errno));
}

AnalysisJournal::~AnalysisJournal() {
  if (fd_ >= 0) ::close(fd_);  // also drops the lock
}

std::optional<MatrixRecord> AnalysisJournal::find(const std::string& name) {
  auto it = records_.find(name);
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

void AnalysisJournal::add(const MatrixRecord& r) {
  const std::string bytes = frame(encode_record(r));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(file_.string(), "cannot append to the journal: {}", std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd_) != 0) fail(file_.string(), "cannot sync the journal: {}", std::strerror(errno));
  static const size_t kill_after = kill_after_records();
  if (kill_after > 0 && ++added_ == kill_after) std::raise(SIGKILL);
}

}  // namespace ctscope::ct
