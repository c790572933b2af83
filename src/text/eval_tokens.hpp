// The token stream an evaluation scores: a text file tokenized whole (BOS
// first) with the model's tokenizer, or a file of token ids used as given.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/checkpoint.hpp"

namespace ctscope {

struct EvalTokens {
  std::vector<int32_t> ids;
  std::string where;  // the file they came from, for error messages
};

// Exactly one of text_file / ids_file is non-empty (Error otherwise).
// tokenizer_path may be empty (see open_tokenizer for the fallbacks).
EvalTokens load_eval_tokens(const Checkpoint& ck, const std::string& text_file, const std::string& ids_file,
                            const std::string& tokenizer_path);

}  // namespace ctscope
