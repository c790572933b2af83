// A read-only memory map of a whole file: checkpoints are read zero-copy, and the
// page cache, not our heap, holds the weights (so RSS stays small while streaming).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace ctscope {

class MappedFile {
 public:
  // Throws Error("<path>: <reason>") if the file cannot be opened or mapped,
  // or is not a regular file (a FIFO or device is refused without blocking).
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  const std::byte* data() const { return data_; }
  std::string_view text() const { return {reinterpret_cast<const char*>(data_), static_cast<size_t>(size_)}; }
  // Bounds-checked view; throws Error naming the file if [offset, offset+len) is outside it.
  std::span<const std::byte> view(uint64_t offset, uint64_t len, const char* what) const;
  // Tell the kernel we are done with a range (drops it from our RSS; stays in page cache).
  void release(uint64_t offset, uint64_t len) const;

 private:
  MappedFile() = default;
  std::string path_;
  const std::byte* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace ctscope
