// Merge-by-score BPE as llama2.c run.c does it: a dummy-prefix space, one token
// per UTF-8 codepoint (byte tokens "<0xXX>" where a codepoint is missing), then
// repeatedly merge the adjacent pair whose concatenation has the best score.
// Serves llama2.c tokenizer.bin (spaces are " ") and GGUF "llama" vocabularies
// (SentencePiece style, spaces are U+2581 "▁").
#pragma once
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "text/tokenizer.hpp"

namespace ctscope {

struct Vocabulary;

class BpeTokenizer : public Tokenizer {
 public:
  // `space` is how the vocabulary spells a space: " " (llama2.c) or "\u2581" (SentencePiece).
  BpeTokenizer(std::vector<std::string> pieces, std::vector<float> scores, std::string space,
               int32_t bos, int32_t eos);

  std::vector<int32_t> encode(std::string_view text, bool add_bos) const override;
  std::string decode(int32_t prev, int32_t id) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(pieces_.size()); }
  int32_t bos_id() const override { return bos_; }
  int32_t eos_id() const override { return eos_; }

 private:
  int32_t lookup(const std::string& s) const;  // -1 if absent
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::string space_;
  int32_t bos_, eos_;
  std::unordered_map<std::string, int32_t> index_;  // first id of each piece
};

// llama2.c tokenizer.bin (io/llama2c_tokenizer_file.hpp) as a tokenizer.
std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::filesystem::path& file, int64_t vocab_size);

// The vocabulary embedded in a GGUF file (tokenizer.ggml.model "llama"), or a
// llama2.c one (model "llama2.c") carried in a .ct.safetensors.
std::unique_ptr<Tokenizer> bpe_from_vocabulary(const Vocabulary& v, const std::string& where, int32_t bos,
                                               int32_t eos);

}  // namespace ctscope
