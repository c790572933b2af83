// Streaming GGUF v3 output (llama.cpp's format): the metadata and every
// tensor's info (name, dims with the row length first, ggml type, offset) go
// out first - sizes follow from the declared shapes and types - then tensor
// data is appended in declaration order, in as many pieces as the caller
// likes, each tensor starting at a multiple of the alignment (32). The file
// appears only on commit(), via AtomicFile.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "io/dtype.hpp"
#include "io/gguf_format.hpp"
#include "util/atomic_file.hpp"

namespace ctscope {

// One metadata value. Integers carry their GGUF width in `type` (UInt32 for
// llama.cpp's hyperparameters); arrays are of strings, float32 or int32
// (the tokenizer's tokens, scores and token types).
struct GgufValue {
  gguf::ValueType type = gguf::ValueType::UInt32;
  std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<std::string>, std::vector<float>,
               std::vector<int32_t>>
      value;
  static GgufValue u32(uint32_t v) { return {gguf::ValueType::UInt32, uint64_t{v}}; }
  static GgufValue f32(float v) { return {gguf::ValueType::Float32, double{v}}; }
  static GgufValue str(std::string v) { return {gguf::ValueType::String, std::move(v)}; }
  static GgufValue strings(std::vector<std::string> v) { return {gguf::ValueType::Array, std::move(v)}; }
  static GgufValue floats(std::vector<float> v) { return {gguf::ValueType::Array, std::move(v)}; }
  static GgufValue ints(std::vector<int32_t> v) { return {gguf::ValueType::Array, std::move(v)}; }
};
struct GgufKeyValue {
  std::string key;
  GgufValue value;
};

struct GgufTensorEntry {
  std::string name;
  DType dtype = DType::F32;    // must have a ggml type (gguf::ggml_from_dtype)
  std::vector<int64_t> shape;  // outermost first, as TensorInfo: a matrix is [rows, cols]
};

class GgufWriter {
 public:
  GgufWriter(std::filesystem::path path, std::vector<GgufKeyValue> metadata, std::vector<GgufTensorEntry> tensors);
  // Appends bytes of tensor `name`, which must be the tensor now due.
  void write(std::string_view name, const void* bytes, size_t n);
  // Checks every tensor was written in full, then renames the file into place.
  void commit();
  uint64_t bytes_written() const { return file_.bytes_written(); }
  uint64_t file_size() const { return file_size_; }  // known before any data is written

 private:
  void pad_to(uint64_t pos);
  void advance();
  std::vector<GgufTensorEntry> tensors_;
  std::vector<uint64_t> sizes_, starts_;  // data bytes and absolute offsets of each tensor
  AtomicFile file_;
  size_t current_ = 0;
  uint64_t done_ = 0;
  uint64_t file_size_ = 0;
};

}  // namespace ctscope
