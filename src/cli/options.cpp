// Options shared by several commands, each worded once. CLI11 parses and
// checks the values (lists, ranges, names), so a bad value fails while
// parsing, before any model is loaded.
#include <algorithm>
#include <charconv>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/command.hpp"
#include "util/error.hpp"

namespace ctscope::cli {

namespace {

const std::map<std::string, ct::BasisKind>& basis_names() {
  static const std::map<std::string, ct::BasisKind> names = [] {
    std::map<std::string, ct::BasisKind> m;
    for (auto b : {ct::BasisKind::Gaussian, ct::BasisKind::Dct, ct::BasisKind::Random, ct::BasisKind::Svd,
                   ct::BasisKind::Universal})
      m.emplace(std::string(ct::basis_name(b)), b);
    return m;
  }();
  return names;
}

}  // namespace

std::vector<int> sorted_unique(std::vector<int> Ks) {
  std::sort(Ks.begin(), Ks.end());
  Ks.erase(std::unique(Ks.begin(), Ks.end()), Ks.end());
  return Ks;
}

CLI::Option* add_k_list_option(CLI::App& sub, std::vector<int>& Ks, const std::string& help) {
  const CLI::Validator whole_k(
      [](const std::string& s) -> std::string {
        int v = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return "'" + s + "' is not a whole number";
        if (v < 1 || v > 100000) return s + " is out of range (K must be 1..100000)";
        return "";
      },
      "K");
  return sub.add_option("--K", Ks, help)->delimiter(',')->check(whole_k)->expected(1, 1 << 20)->capture_default_str();
}

CLI::Option* add_basis_list_option(CLI::App& sub, const std::string& flag, std::vector<ct::BasisKind>& bases,
                                   const std::string& help) {
  return sub.add_option(flag, bases, help)
      ->delimiter(',')
      ->transform(names_to(basis_names(), "basis"))
      ->expected(1, 1 << 20);
}

CLI::Option* add_basis_option(CLI::App& sub, const std::string& flag, ct::BasisKind& basis, const std::string& help) {
  return sub.add_option(flag, basis, help)->transform(names_to(basis_names(), "basis"));
}

void add_model_arg(CLI::App& sub, std::string& model) {
  sub.add_option("MODEL", model,
                 "checkpoint: HF directory, .safetensors, .gguf, llama2.c .bin, a Hugging Face hub cache folder "
                 "(models--ORG--NAME) or a repo id in that cache (e.g. TinyLlama/TinyLlama-1.1B-Chat-v1.0)")
      ->required();
}

void add_tokenizer_option(CLI::App& sub, std::string& tokenizer) {
  sub.add_option("--tokenizer", tokenizer,
                 "tokenizer.json (Hugging Face), tokenizer.model (SentencePiece) or llama2.c tokenizer.bin, e.g. "
                 "--tokenizer tok512.bin; default: the GGUF's own vocabulary, else tokenizer.json or tokenizer.model "
                 "beside a safetensors model, else tokenizer.bin or tok<vocab>.bin beside a llama2.c .bin");
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

void add_selection_options(CLI::App& sub, ct::TensorSelection& s, const std::string& verb) {
  sub.add_option("--preset", s.preset,
                 "tensor selection preset: paper68 = the 7 projections of every layer + lm_head (default: every 2-D "
                 "tensor)")
      ->check(CLI::IsMember(ct::selection_presets()));
  const std::string names =
      " (searched in the file's own name and in the Hugging Face name `inspect` shows by role: --include q_proj "
      "selects blk.N.attn_q.weight in a GGUF too)";
  sub.add_option("--include", s.include, "only " + verb + " tensors whose name matches this regex" + names);
  sub.add_option("--exclude", s.exclude,
                 "never " + verb + " tensors whose name matches this regex (matched like --include), e.g. "
                 "--exclude 'embed_tokens|lm_head'");
  const CLI::Validator known_role(
      [](const std::string& r) -> std::string {
        const auto& known = ct::fittable_role_names();
        if (std::find(known.begin(), known.end(), r) != known.end()) return "";
        return fmt::format("unknown role '{}' (known: {})", r, fmt::join(known, ", "));
      },
      "ROLE");
  sub.add_option("--role", s.roles,
                 fmt::format("only {} tensors of these roles, comma-separated, e.g. --role q_proj,k_proj ({})", verb,
                             fmt::join(ct::fittable_role_names(), ", ")))
      ->delimiter(',')
      ->check(known_role);
  const CLI::Validator layer_ranges(
      [](const std::string& text) -> std::string {
        try {
          ct::parse_layer_ranges(text);
          return "";
        } catch (const Error& e) {  // CLI11 puts "--layers: " before the message: drop our own prefix
          const std::string what = e.what();
          const size_t cut = what.find("': ");
          return cut == std::string::npos ? what : what.substr(cut + 3);
        }
      },
      "RANGES");
  sub.add_option("--layers", s.layers,
                 "only " + verb + " tensors of these transformer blocks, e.g. --layers 0-5,10,20-21 (embeddings and "
                 "lm_head, outside the blocks, drop out)")
      ->check(layer_ranges);
}

void add_seed_option(CLI::App& sub, uint64_t& seed) {
  sub.add_option("--seed", seed, "seed of the random basis")->capture_default_str();
}

}  // namespace ctscope::cli
