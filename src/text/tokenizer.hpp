// Text <-> token ids for the models we run. One small interface over the
// vocabularies we meet: llama2.c tokenizer.bin, the vocabulary inside GGUF files,
// SentencePiece tokenizer.model and Hugging Face tokenizer.json.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ctscope {

struct Checkpoint;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::vector<int32_t> encode(std::string_view text, bool add_bos) const = 0;
  // The bytes token `id` stands for when it follows `prev` (the leading space
  // after BOS is dropped, "<0xXX>" becomes the raw byte), as llama2.c run.c does.
  virtual std::string decode(int32_t prev, int32_t id) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;
  virtual int32_t eos_id() const = 0;
};

// `piece` with every occurrence of `space` (SentencePiece's U+2581) made a plain space.
std::string with_plain_spaces(std::string_view piece, std::string_view space = "\u2581");

// The tokenizer for a model: `explicit_path` if given (a tokenizer.json, a
// SentencePiece .model, or else a llama2.c tokenizer.bin), else the GGUF file's
// own vocabulary, else a file beside the model (tokenizer.json, tokenizer.model
// for safetensors; tokenizer.bin, tok<vocab_size>.bin, tokenizer.model for a
// llama2.c .bin); else an Error naming where it looked and asking for
// --tokenizer. Its vocabulary size must equal the model's (a tokenizer.json may
// be smaller: padded embeddings); Error otherwise.
std::unique_ptr<Tokenizer> open_tokenizer(const Checkpoint& ck,
                                          const std::optional<std::filesystem::path>& explicit_path);

}  // namespace ctscope
