// llama2.c tokenizer.bin: int32 max_token_length, then vocab_size x {float32
// score, int32 len, len bytes}. The count is not stored, so the model's vocab
// size is needed; a file with fewer or more entries is an Error naming it.
#pragma once
#include <cstdint>
#include <filesystem>

#include "io/checkpoint.hpp"

namespace ctscope {

// The pieces (spaces spelled " ") and scores; model = "llama2.c".
Vocabulary read_llama2c_tokenizer(const std::filesystem::path& file, int64_t vocab_size);

}  // namespace ctscope
