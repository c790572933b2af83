#include "util/file_fingerprint.hpp"

#include <algorithm>

#include <sys/stat.h>

#include <ctime>
#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "util/error.hpp"

namespace ctscope {

std::string iso8601_utc(const timespec& t) {
  std::tm tm{};
  gmtime_r(&t.tv_sec, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, t.tv_nsec);
}

std::string now_iso8601_utc() {
  timespec t{};
  clock_gettime(CLOCK_REALTIME, &t);
  return iso8601_utc(t);
}

namespace {

// Hashes `n` bytes at `offset` into h.
uint64_t hash_range(std::ifstream& in, const std::string& where, uint64_t offset, uint64_t n, uint64_t h) {
  std::vector<char> buf(static_cast<size_t>(n));
  in.seekg(static_cast<std::streamoff>(offset));
  if (!in.read(buf.data(), static_cast<std::streamsize>(n))) fail(where, "cannot read it to fingerprint it");
  return fnv1a64(std::string_view(buf.data(), buf.size()), h);
}

}  // namespace

uint64_t fnv1a64(std::string_view bytes, uint64_t h) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string hex64(uint64_t v) { return fmt::format("{:016x}", v); }

FileFingerprint fingerprint_file(const std::filesystem::path& p) {
  FileFingerprint f;
  f.path = std::filesystem::absolute(p).lexically_normal().string();
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) fail(p.string(), "cannot stat it to fingerprint it");
  f.size_bytes = static_cast<uint64_t>(st.st_size);
  f.mtime_utc = iso8601_utc(st.st_mtim);
  std::ifstream in(p, std::ios::binary);
  if (!in) fail(p.string(), "cannot open it to fingerprint it");
  uint64_t h = 0xcbf29ce484222325ULL;
  if (f.size_bytes <= 2 * kFingerprintEdgeBytes) {
    h = hash_range(in, p.string(), 0, f.size_bytes, h);
    f.hashed_bytes = f.size_bytes;
  } else {
    h = hash_range(in, p.string(), 0, kFingerprintEdgeBytes, h);
    h = hash_range(in, p.string(), f.size_bytes - kFingerprintEdgeBytes, kFingerprintEdgeBytes, h);
    f.hashed_bytes = 2 * kFingerprintEdgeBytes;
  }
  f.fnv1a64 = h;
  return f;
}

std::vector<FileFingerprint> fingerprint_input(const std::filesystem::path& p) {
  std::error_code ec;
  std::vector<std::filesystem::path> names;
  if (std::filesystem::is_directory(p, ec)) {
    for (const auto& e : std::filesystem::directory_iterator(p, ec))
      if (e.is_regular_file(ec)) names.push_back(e.path());
    std::sort(names.begin(), names.end());
  } else {
    names.push_back(p);
  }
  std::vector<FileFingerprint> out;
  for (const auto& n : names) out.push_back(fingerprint_file(n));
  return out;
}

}  // namespace ctscope
