// The BPE model of Hugging Face tokenizers: a vocabulary and a ranked list of
// merges. A word starts as one symbol per character (its UTF-8 bytes as
// "<0xNN>" tokens where the character is missing and byte_fallback is on, else
// <unk>), then the adjacent pair with the lowest merge rank is merged, leftmost
// first, until no listed pair is left (tokenizers/src/models/bpe/word.rs).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ctscope {

class RankedBpe {
 public:
  struct Options {
    bool byte_fallback = false;
    std::optional<int32_t> unk;  // the id of unk_token, if any
    bool fuse_unk = false;       // consecutive unknown characters become one <unk>
    bool ignore_merges = false;  // a word that is itself a token is taken whole (Llama 3)
  };
  // Throws Error naming `where` if a merge names a token the vocabulary lacks.
  RankedBpe(std::unordered_map<std::string, int32_t> vocab,
            const std::vector<std::pair<std::string, std::string>>& merges, Options opt, const std::string& where);

  // Appends the ids of one pre-tokenized word.
  void encode(std::string_view word, std::vector<int32_t>& out) const;
  const std::unordered_map<std::string, int32_t>& vocab() const { return vocab_; }

 private:
  int32_t id_of(std::string_view s) const;  // -1 if absent
  std::unordered_map<std::string, int32_t> vocab_;
  struct Merge {
    int32_t rank, merged;
  };
  std::unordered_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) -> rank, result
  Options opt_;
};

}  // namespace ctscope
