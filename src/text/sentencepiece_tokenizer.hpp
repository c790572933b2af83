// SentencePiece tokenizer.model (Hugging Face Llama directories), via libsentencepiece.
#pragma once
#include <filesystem>
#include <memory>

#include "text/tokenizer.hpp"

namespace ctscope {

std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::filesystem::path& file);

}  // namespace ctscope
