// One view of a checkpoint, whatever its format: the list of tensors (name,
// dtype, shape, byte range, source file), the model config, and (GGUF) the
// vocabulary. Tensor bytes stay in the memory-mapped files until asked for, so
// callers can stream a 70B checkpoint one tensor at a time.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/dtype.hpp"
#include "model/config.hpp"
#include "model/roles.hpp"
#include "util/mapped_file.hpp"

namespace ctscope {

enum class Format { Safetensors, Gguf, Llama2c };
std::string_view format_name(Format f);  // "safetensors" | "gguf" | "llama2c"

struct TensorInfo {
  std::string name;              // as spelled in the file
  DType dtype = DType::F32;
  std::vector<int64_t> shape;    // outermost first; a 2-D matrix is [rows, cols] (PyTorch Linear layout)
  int file = 0;                  // index into Checkpoint::files
  uint64_t offset = 0;           // absolute byte offset in that file
  uint64_t nbytes = 0;
  int layer = -1;                // transformer block, -1 outside the blocks
  Role role = Role::Other;
  std::string alias_of;          // non-empty: shares data with that tensor (tied classifier); not counted twice

  uint64_t numel() const;
  bool is_matrix() const { return shape.size() == 2; }
  int64_t rows() const { return shape.size() == 2 ? shape[0] : 0; }
  int64_t cols() const { return shape.size() == 2 ? shape[1] : 0; }
};

// Vocabulary carried by the file (GGUF tokenizer.ggml.*), for tokenizers.
struct Vocabulary {
  std::string model;                 // tokenizer.ggml.model, e.g. "llama"
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> token_types;  // may be empty
};

struct Checkpoint {
  std::filesystem::path path;  // what the user gave, or the hub snapshot it resolved to (io/model_path.hpp)
  Format format = Format::Safetensors;
  ModelConfig config;
  std::vector<TensorInfo> tensors;
  std::vector<std::shared_ptr<const MappedFile>> files;
  std::optional<Vocabulary> vocab;
  // GGUF only: every metadata key/value (numbers, strings, nested arrays as JSON),
  // except the tokenizer.ggml.{tokens,scores,token_type} arrays, which are in vocab.
  // Strings are the file's bytes and need not be valid UTF-8 (dump with a handler).
  nlohmann::json gguf_metadata;
  // safetensors __metadata__ (string -> string), merged over shards; reconstruct reads it.
  std::map<std::string, std::string> metadata;

  // Opens a directory (config.json + model.safetensors or sharded with
  // model.safetensors.index.json), a .safetensors, a .gguf or a llama2.c .bin;
  // or a Hugging Face hub cache folder / repo id (resolve_model_path).
  // Throws Error naming the file and the problem on any malformed input.
  static Checkpoint open(const std::filesystem::path& path);

  const TensorInfo* find(std::string_view name) const;
  const TensorInfo* find(int layer, Role role) const;
  // The raw bytes of a tensor (zero-copy view into the map).
  std::span<const std::byte> bytes(const TensorInfo& t) const;
  // Float32 copy of a tensor; out.size() must equal t.numel().
  void read_f32(const TensorInfo& t, std::span<float> out) const;
  std::vector<float> read_f32(const TensorInfo& t) const;
  // Drop a tensor's pages from this process's RSS after use (they stay in page cache).
  void release(const TensorInfo& t) const;

  uint64_t total_params() const;  // every tensor once (aliases not counted again)
  uint64_t total_bytes() const;
  // Sets layer/role of every tensor from its name (classify_tensor).
  void assign_roles();
};

}  // namespace ctscope
