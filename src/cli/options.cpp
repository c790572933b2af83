// Options and value parsers shared by several commands, each worded once.
#include <algorithm>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "util/error.hpp"

namespace ctscope::cli {

std::vector<int> parse_k_list(const std::string& s) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t used = 0;
    long v = 0;
    try {
      v = std::stol(item, &used);
    } catch (...) {
      used = 0;
    }
    if (item.empty() || used != item.size()) throw Error("--K: '" + item + "' is not a whole number");
    if (v < 1 || v > 100000) throw Error("--K: " + item + " is out of range (K must be >= 1)");
    out.push_back(static_cast<int>(v));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<ct::BasisKind> parse_basis_list(const std::string& s, const std::string& flag) {
  std::vector<ct::BasisKind> out;
  size_t pos = 0;
  while (true) {
    const size_t comma = s.find(',', pos);
    const std::string name = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    auto b = ct::basis_from_name(name);
    if (!b) throw Error(flag + ": unknown basis '" + name + "' (gaussian, dct, random, svd, universal)");
    out.push_back(*b);
    if (comma == std::string::npos) return out;
    pos = comma + 1;
  }
}

void add_model_arg(CLI::App& sub, std::string& model) {
  sub.add_option("MODEL", model, "checkpoint: HF directory, .safetensors, .gguf or llama2.c .bin")->required();
}

void add_tokenizer_option(CLI::App& sub, std::string& tokenizer) {
  sub.add_option("--tokenizer", tokenizer,
                 "tokenizer.bin (llama2.c) or tokenizer.model (SentencePiece); default: the GGUF's own vocabulary, "
                 "or tokenizer.model in the HF directory");
}

void add_text_options(CLI::App& sub, std::string& text, std::string& text_ids, std::string& tokenizer) {
  auto* t = sub.add_option("--text", text, "UTF-8 text file, tokenized whole with BOS prepended");
  auto* ti = sub.add_option("--text-ids", text_ids,
                            "file of token ids instead of text (one per line, or a JSON array), used as given "
                            "(begin it with BOS)");
  t->excludes(ti);
  add_tokenizer_option(sub, tokenizer);
}

void add_ctx_option(CLI::App& sub, int64_t& ctx) {
  // Checked while parsing, so a bad value fails before any model is loaded.
  sub.add_option_function<int64_t>(
      "--ctx",
      [&ctx](const int64_t& v) {
        if (v < 4) throw Error(fmt::format("--ctx: {} is too small (need at least 4)", v));
        ctx = v;
      },
      fmt::format("context (chunk) length; the second half of each chunk is scored (default {})", ctx));
}

void add_selection_options(CLI::App& sub, ct::AnalysisSettings& s, const std::string& verb) {
  sub.add_option("--preset", s.preset,
                 "tensor selection preset: paper68 = the 7 projections of every layer + lm_head (default: every 2-D "
                 "tensor)");
  sub.add_option("--include", s.include, "only " + verb + " tensors whose name matches this regex");
  sub.add_option("--exclude", s.exclude, "never " + verb + " tensors whose name matches this regex");
}

}  // namespace ctscope::cli
