// The per-format readers behind Checkpoint::open. Each fills a Checkpoint from
// one path and validates every size, offset and count against the file first.
#pragma once
#include <filesystem>

#include "io/checkpoint.hpp"

namespace ctscope {

Checkpoint open_safetensors_file(const std::filesystem::path& file);   // one .safetensors
Checkpoint open_hf_directory(const std::filesystem::path& dir);        // config.json + (sharded) safetensors
Checkpoint open_gguf(const std::filesystem::path& file);
Checkpoint open_llama2c(const std::filesystem::path& file);

}  // namespace ctscope
