// The vocabulary a .ct.safetensors carries (ct_format.hpp, "ct.vocab.*"): the
// source's own (a GGUF's tokenizer.ggml.*), or the llama2.c tokenizer.bin given
// to compress. Stored as tensors, not JSON metadata, because a token is bytes
// and need not be valid UTF-8. Read back as the Vocabulary the tokenizers use,
// so `generate`/`eval` on the file, and `reconstruct`, need no --tokenizer.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "io/checkpoint.hpp"
#include "io/safetensors_writer.hpp"

namespace ctscope::ctfile {

// Metadata keys beside the tensors: the Vocabulary's model ("llama",
// "llama2.c", ...; present exactly when a vocabulary is carried) and where it came from.
inline constexpr const char* kVocabModelKey = "vocab_model";
inline constexpr const char* kVocabSourceKey = "vocab_source";

// A vocabulary laid out as the tensors compress writes.
class VocabTensors {
 public:
  // Error naming `where` when v's scores or types do not match its tokens.
  VocabTensors(const Vocabulary& v, const std::string& where);
  std::vector<SafetensorsEntry> entries() const;  // in the order write() writes them
  void write(SafetensorsWriter& w) const;

 private:
  std::vector<uint8_t> pieces_;
  std::vector<int32_t> lengths_, types_;
  std::vector<float> scores_;
};

// Names of the vocabulary tensors ck carries (empty when it carries none).
std::set<std::string> vocab_tensor_names(const Checkpoint& ck);

// The vocabulary to carry from a tokenizer file given to compress: a llama2.c
// tokenizer.bin of `vocab_size` tokens. A tokenizer.model or tokenizer.json is
// refused (Error naming it): those travel beside the model, not inside the file.
Vocabulary read_vocab_to_carry(const std::filesystem::path& tokenizer, int64_t vocab_size);

// The vocabulary ck carries, checked (shapes, dtypes, lengths that add up);
// nullopt when it carries none. Error naming the file when malformed.
std::optional<Vocabulary> read_vocab(const Checkpoint& ck);

}  // namespace ctscope::ctfile
