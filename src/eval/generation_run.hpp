// A generation run set up from what a user gives: the model, its tokenizer, the
// prompt (text or ids) and how many new tokens. `ctscope generate` and the
// Python module's generate() both start here, so they check the same things and
// fail with the same messages.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/checkpoint.hpp"
#include "runtime/llama_weights.hpp"
#include "text/tokenizer.hpp"

namespace ctscope {

struct GenerationRequest {
  std::string model;
  std::string tokenizer;  // "" = the model's own, or one found beside it
  std::string prompt;     // text; used when prompt_ids is unset
  std::optional<std::vector<int32_t>> prompt_ids;  // used as given (BOS included)
  std::string prompt_ids_source = "prompt ids";    // names the ids in errors
  bool text_out = true;  // decode the output: then a tokenizer is required
  int64_t n_new = 256;   // new tokens, as llama.cpp's -n
  float temperature = 0.0f, top_p = 0.9f;
  uint64_t seed = 0;
};

struct GenerationRun {
  Checkpoint checkpoint;
  std::shared_ptr<const LlamaWeights> weights;
  std::unique_ptr<Tokenizer> tokenizer;  // null only for ids in and out with none found
  std::vector<int32_t> ids;              // the prompt; run() appends the new tokens
  size_t total = 0;                      // prompt + new tokens that fit
  float temperature = 0.0f, top_p = 0.9f;
  uint64_t seed = 0;

  // Generates into `ids`, calling `emit(i)` for each new position i; returns
  // the number of new tokens (fewer than asked when the model ends the text).
  size_t run(const std::function<void(size_t)>& emit = {});
  // The text of ids[1..], as the tokenizer decodes it pair by pair.
  std::string text() const;
};

// Checks the sampling settings, opens the model and its tokenizer (a text
// prompt or text output needs one; ids in and out use one only if found),
// reads the prompt and sizes the run to the model's context. Error otherwise.
GenerationRun prepare_generation(const GenerationRequest& request);

}  // namespace ctscope
