// Options shared by several commands, each worded once. CLI11 parses and
// checks the values (lists, ranges, names), so a bad value fails while
// parsing, before any model is loaded.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/command.hpp"
#include "util/atomic_file.hpp"
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

// Why `s` is not a K ("" when it is one).
std::string k_value_error(const std::string& s) {
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size())
    return std::string("'") + s + "' is not a whole number (K: basis functions per row, 1..100000)";
  if (v < 1 || v > 100000) return s + " is out of range (K must be 1..100000)";
  return "";
}

struct DeclaredOutput {
  std::string* path;
  OutputKind kind;
  std::string name;  // as the user typed it: "--json", "OUT"
};
std::map<const CLI::App*, std::vector<DeclaredOutput>>& declared_outputs() {
  static std::map<const CLI::App*, std::vector<DeclaredOutput>> m;
  return m;
}

}  // namespace

CLI::Option* add_output_option(CLI::App& sub, const std::string& flags, std::string& path, const std::string& help,
                               OutputKind kind) {
  CLI::Option* opt = sub.add_option(flags, path, help);
  declared_outputs()[&sub].push_back({&path, kind, opt->get_name()});
  return opt;
}

CLI::Option* add_output_arg(CLI::App& sub, const std::string& name, std::string& path, const std::string& help,
                            OutputKind kind) {
  return add_output_option(sub, name, path, help, kind);
}

void prepare_outputs(const CLI::App& sub) {
  std::vector<std::string> to_stdout;
  for (const auto& o : declared_outputs()[&sub]) {
    const std::string& path = *o.path;
    if (path.empty()) continue;
    if (is_stdout_name(path)) {
      if (o.kind == OutputKind::Directory)
        fail(o.name + " " + path, "a checkpoint directory cannot be written to standard output: name a directory");
      if (o.kind == OutputKind::ModelFile && ::isatty(stdout_output_fd()))
        fail(o.name + " " + path, "refusing to write a model file to a terminal: redirect it (> FILE, | ...)");
      to_stdout.push_back(o.name);
    } else if (o.kind != OutputKind::Directory) {
      check_writable(path);
    }
  }
  if (to_stdout.size() > 1)
    throw Error(fmt::format("{}: only one output can go to standard output",
                            fmt::join(to_stdout, ", ")));
  if (!to_stdout.empty()) reserve_stdout_for_output();
}

CLI::Option* add_quiet_option(CLI::App& sub, bool& quiet) {
  return sub.add_flag("-q,--quiet", quiet,
                      "print nothing but errors: no progress, notes or report (outputs you name are still written)");
}

CLI::Option* add_progress_option(CLI::App& sub, ProgressMode& mode) {
  return sub
      .add_option("--progress", mode,
                  "auto (default): a bar on a terminal, else a plain line every 5 s | bar | lines | none")
      ->transform(names_to(std::map<std::string, ProgressMode>{{"auto", ProgressMode::Auto},
                                                               {"bar", ProgressMode::Bar},
                                                               {"lines", ProgressMode::Lines},
                                                               {"none", ProgressMode::None}},
                           "progress mode"));
}

void add_legacy_force_flag(CLI::App& sub) {
  sub.add_flag("--force")->description("ignored: an existing output is always replaced (for old scripts)")->group("");
}

std::string examples(std::initializer_list<std::string> lines) {
  std::string s = "\nExamples:\n";
  for (const auto& l : lines) s += std::string("  ") + l + "\n";
  return s;
}

namespace {
CLI::Validator number_at_least(bool zero_allowed) {
  return CLI::Validator(
      [zero_allowed](const std::string& s) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        const bool ok = !s.empty() && end == s.c_str() + s.size() && std::isfinite(v) && (zero_allowed ? v >= 0 : v > 0);
        return ok ? "" : "'" + s + "' is not a number " + (zero_allowed ? ">= 0" : "> 0");
      },
      zero_allowed ? "NONNEGATIVE" : "POSITIVE");
}
}  // namespace

CLI::Validator non_negative_number() { return number_at_least(true); }
CLI::Validator positive_number() { return number_at_least(false); }

std::vector<int> sorted_unique(std::vector<int> Ks) {
  std::sort(Ks.begin(), Ks.end());
  Ks.erase(std::unique(Ks.begin(), Ks.end()), Ks.end());
  return Ks;
}

CLI::Option* add_k_list_option(CLI::App& sub, std::vector<int>& Ks, const std::string& help) {
  const CLI::Validator whole_k(k_value_error, "K");
  return sub.add_option("--K", Ks, help)->delimiter(',')->check(whole_k)->expected(1, 1 << 20)->capture_default_str();
}

CLI::Option* add_k_option(CLI::App& sub, int& K, const std::string& help) {
  const CLI::Validator one_k(
      [](const std::string& s) -> std::string {
        if (s.find(',') != std::string::npos)
          return std::string("'") + s +
                 "': one K here, a number in 1..100000 (each K is a file of its own: run once per K)";
        return k_value_error(s);
      },
      "K");
  return sub.add_option("--K", K, help)->check(one_k)->capture_default_str();
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

uint64_t parse_whole_number(const std::string& flag, const std::string& s, uint64_t lo, uint64_t hi) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  const bool digits = !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
  if (!digits || (ec != std::errc() && ec != std::errc::result_out_of_range) || end != s.data() + s.size())
    throw Error(fmt::format("{}: '{}' is not a whole number ({}..{})", flag, s, lo, hi));
  if (ec == std::errc::result_out_of_range || v < lo || v > hi)
    throw Error(fmt::format("{}: {} is out of range ({}..{})", flag, s, lo, hi));
  return v;
}

void add_ctx_option(CLI::App& sub, int64_t& ctx) {
  // Checked while parsing, so a bad value fails before any model is loaded.
  sub.add_option_function<std::string>(
         "--ctx",
         [&ctx](const std::string& v) { ctx = static_cast<int64_t>(parse_whole_number("--ctx", v, 4, kMaxCtx)); },
         fmt::format("context (chunk) length, 4..{}; the second half of each chunk is scored", kMaxCtx))
      ->default_str(std::to_string(ctx));
}

CLI::Option* add_count_option(CLI::App& sub, const std::string& flag, int& value, int hi, const std::string& help) {
  return sub
      .add_option_function<std::string>(
          flag,
          [&value, flag, hi](const std::string& v) {
            value = static_cast<int>(parse_whole_number(flag, v, 0, static_cast<uint64_t>(hi)));
          },
          help)
      ->type_name("N")
      ->default_str(std::to_string(value));
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

void add_seed_option(CLI::App& sub, uint64_t& seed, const std::string& help) {
  sub.add_option_function<std::string>(
         "--seed",
         [&seed](const std::string& v) {
           seed = parse_whole_number("--seed", v, 0, std::numeric_limits<uint64_t>::max());
         },
         help)
      ->default_str(std::to_string(seed));
}

}  // namespace ctscope::cli
