// Streaming safetensors output: the header is fixed up front from the declared
// shapes, then tensor bytes are appended in declaration order - in as many
// pieces (row panels) as the caller likes - so no tensor need be held whole.
// The file appears only on commit(), via AtomicFile.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "io/dtype.hpp"
#include "util/atomic_file.hpp"

namespace ctscope {

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
};

// The exact header a SafetensorsWriter writes (8-byte length + JSON padded with
// spaces to a multiple of 8, like the reference). Throws Error on a bad entry.
std::string safetensors_header(const std::vector<SafetensorsEntry>& entries,
                               const std::map<std::string, std::string>& metadata, const std::string& where);
// Bytes of one entry's data (throws Error on overflow or a non-safetensors dtype).
uint64_t safetensors_entry_bytes(const SafetensorsEntry& e, const std::string& where);

class SafetensorsWriter {
 public:
  SafetensorsWriter(std::filesystem::path path, std::vector<SafetensorsEntry> entries,
                    std::map<std::string, std::string> metadata = {});
  // Appends bytes of tensor `name`, which must be the tensor now due; a tensor
  // may arrive in several calls as long as the total matches its size.
  void write(std::string_view name, const void* bytes, size_t n);
  // Checks every tensor was written in full, runs `check` on the finished
  // temporary file (AtomicFile::commit), then renames the file into place.
  void commit(const std::function<void(const std::filesystem::path&)>& check = {});
  uint64_t bytes_written() const { return file_.bytes_written(); }
  // Size of the finished file (header + data), known before any data is written.
  uint64_t file_size() const { return file_size_; }

 private:
  void skip_empty();
  std::filesystem::path path_;
  std::vector<SafetensorsEntry> entries_;
  std::vector<uint64_t> sizes_;
  AtomicFile file_;
  size_t current_ = 0;     // index of the tensor being written
  uint64_t done_ = 0;      // bytes of it written so far
  uint64_t file_size_ = 0;
};

// model.safetensors.index.json for a sharded Hugging Face directory
// ({"metadata": {"total_size": N}, "weight_map": {tensor: shard file}}), written atomically.
void write_hf_index(const std::filesystem::path& dir, const std::map<std::string, std::string>& weight_map,
                    uint64_t total_size);

}  // namespace ctscope
