// A cheap fingerprint of an input file, recorded in every JSON result so a
// result can be matched to the exact bytes it was computed from without
// hashing gigabytes: the size, the modification time, and a 64-bit FNV-1a hash
// of the first and the last MiB (of the whole file when it is at most 2 MiB).
// The head holds every format's header (GGUF metadata, safetensors JSON,
// llama2.c config); the tail catches a truncated or appended file. An edit in
// the middle of a large file shows in the mtime only.
#pragma once
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace ctscope {

struct FileFingerprint {
  std::string path;           // absolute, lexically normal (symlinks kept as named)
  uint64_t size_bytes = 0;
  std::string mtime_utc;      // ISO 8601 with nanoseconds, e.g. "2024-11-29T13:30:00.123456789Z"
  uint64_t fnv1a64 = 0;       // over the hashed bytes, in file order
  uint64_t hashed_bytes = 0;  // min(size, 2 MiB)
};

inline constexpr uint64_t kFingerprintEdgeBytes = uint64_t{1} << 20;  // hashed at each end

// 64-bit FNV-1a (offset basis 0xcbf29ce484222325, prime 0x100000001b3), continued from `h`.
uint64_t fnv1a64(std::string_view bytes, uint64_t h = 0xcbf29ce484222325ULL);

// Throws Error("<path>: ...") when the file cannot be read.
FileFingerprint fingerprint_file(const std::filesystem::path& p);

// The files of an input: the file itself, or every regular file directly in a
// directory (a Hugging Face model folder), sorted by path.
std::vector<FileFingerprint> fingerprint_input(const std::filesystem::path& p);

// ISO 8601 UTC with nanoseconds, e.g. "2024-11-29T13:30:00.123456789Z"; of a time, and of now.
std::string iso8601_utc(const timespec& t);
std::string now_iso8601_utc();

// 16 lowercase hex digits.
std::string hex64(uint64_t v);

}  // namespace ctscope
