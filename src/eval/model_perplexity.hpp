// `eval`'s experiment: a model's perplexity on a text by llama.cpp's rule, and
// with a reference model the KL divergence and top-1 agreement against it.
// Either model may be a .ct.safetensors (run reconstructed).
#pragma once
#include <cstdint>
#include <string>

#include "eval/perplexity.hpp"
#include "util/progress.hpp"

namespace ctscope {

struct PerplexityRequest {
  std::string model, reference;               // reference: "" for none (same vocabulary)
  std::string text, text_ids, tokenizer;      // exactly one of text / text_ids; tokenizer may be ""
  int64_t ctx = 512;
};

// Errors (one line naming the file) come before any weights are loaded.
// progress: after each chunk, with the running perplexity.
ComparisonResult model_perplexity(const PerplexityRequest& r, const ProgressFn& progress = {});

}  // namespace ctscope
