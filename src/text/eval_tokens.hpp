// The token stream an evaluation scores: a text file tokenized whole (BOS
// first) with the model's tokenizer, or a file of token ids used as given.
// A text file loses one trailing '\n' first, as llama-perplexity's -f does
// (spec "Evaluation"): otherwise a file ending in a newline scores one token
// more than llama.cpp and, at a chunk boundary, one chunk more.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/checkpoint.hpp"

namespace ctscope {

struct EvalTokens {
  std::vector<int32_t> ids;
  std::string where;  // the file they came from, for error messages
};

// The text llama.cpp's -f tokenizes: one '\n' (only '\n', not "\r\n") removed from the end.
std::string_view without_one_trailing_newline(std::string_view text);

// Exactly one of text_file / ids_file is non-empty (Error otherwise).
// tokenizer_path may be empty (see open_tokenizer for the fallbacks).
EvalTokens load_eval_tokens(const Checkpoint& ck, const std::string& text_file, const std::string& ids_file,
                            const std::string& tokenizer_path);

}  // namespace ctscope
