// `eval`'s experiment: a model's perplexity on a text by llama.cpp's rule, and
// with a reference model the KL divergence and top-1 agreement against it.
// Either model may be a .ct.safetensors (run reconstructed).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "eval/perplexity.hpp"
#include "util/progress.hpp"

namespace ctscope {

struct PerplexityRequest {
  std::string model, reference;               // reference: "" for none (same vocabulary)
  std::string text, text_ids, tokenizer;      // exactly one of text / text_ids; tokenizer may be ""
  int64_t ctx = 512;
};

struct PerplexityRun {
  ComparisonResult result;
  int64_t n_tokens = 0;       // the whole text, BOS included
  int64_t model_context = 0;  // the context the model was trained for (LlamaModel::context_of)
  std::vector<std::string> notes;  // evaluation_notes: shown with the numbers
  // What `eval --json` writes (and Python's perplexity returns): the model's
  // EvalResult, "floors", "model_context", "text_tokens", "notes", and with a
  // reference its own numbers under "reference".
  nlohmann::json to_json() const;
};

// Errors (one line naming the file) come before any weights are loaded.
// progress: after each chunk, with the running perplexity.
PerplexityRun model_perplexity(const PerplexityRequest& r, const ProgressFn& progress = {});

}  // namespace ctscope
