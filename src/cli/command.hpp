// Each subcommand lives in its own cmd_*.cpp and registers itself here, so
// adding a command touches no shared file.
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ct/basis.hpp"
#include "ct/tensor_selection.hpp"
#include "io/dtype.hpp"
#include "util/progress.hpp"

namespace ctscope::cli {

// setup() adds the subcommand's options to `sub` and returns the action to run
// after parsing (which returns the process exit code).
using Action = std::function<int()>;
using Setup = std::function<Action(CLI::App& sub)>;

struct CommandSpec {
  std::string name, description;
  Setup setup;
  int order;  // position in --help
};
std::vector<CommandSpec>& registry();

struct RegisterCommand {
  RegisterCommand(std::string name, std::string description, int order, Setup setup) {
    registry().push_back({std::move(name), std::move(description), std::move(setup), order});
  }
};

// Options several commands share (src/cli/options.cpp), each worded once.
//
// The conventions every command keeps (README, "Command-line conventions"):
// an output option names a file, replaced atomically, or "-" for standard
// output; -q/--quiet leaves only errors and the outputs asked for; long
// commands take --progress auto|bar|lines|none.

// What an output option writes, which settles what "-" may mean: text goes to
// standard output; a model file too, but never to a terminal; a directory never.
enum class OutputKind { Text, ModelFile, Directory };
// An output option (--json FILE, --csv FILE, -o FILE, ...) bound to `path`,
// registered so that prepare_outputs checks it before the command runs.
CLI::Option* add_output_option(CLI::App& sub, const std::string& flags, std::string& path, const std::string& help,
                               OutputKind kind = OutputKind::Text);
// The same for a positional (synth OUT).
CLI::Option* add_output_arg(CLI::App& sub, const std::string& name, std::string& path, const std::string& help,
                            OutputKind kind);
// Before the parsed command `sub` runs: every output it was given can be
// written (an Error naming it otherwise, before any long run), at most one is
// standard output, and when one is, everything else the command prints moves
// from stdout to stderr (reserve_stdout_for_output), so stdout holds that output alone.
void prepare_outputs(const CLI::App& sub);

// A command's --json FILE and --html FILE of one result: the JSON as written,
// and the page `ctscope report` makes of it (named by the JSON file, else by
// `name`). Either path may be empty (not asked for).
void write_result_files(const std::string& json, const std::string& html, const std::string& name,
                        const nlohmann::json& result);

// -q/--quiet: nothing on the terminal but errors: no progress, notes or report.
CLI::Option* add_quiet_option(CLI::App& sub, bool& quiet);
// --progress auto|bar|lines|none, for the commands that run long.
CLI::Option* add_progress_option(CLI::App& sub, ProgressMode& mode);
// The mode a command's ProgressBar gets: none under -q, else as asked.
inline ProgressMode progress_mode(ProgressMode asked, bool quiet) { return quiet ? ProgressMode::None : asked; }
// --force of older versions (synth, reconstruct): accepted and ignored, hidden,
// since an output is now always replaced (atomically, never an input).
void add_legacy_force_flag(CLI::App& sub);
// "Example:" lines for the end of a command's --help.
std::string examples(std::initializer_list<std::string> lines);

void add_model_arg(CLI::App& sub, std::string& model);  // the required positional MODEL
void add_tokenizer_option(CLI::App& sub, std::string& tokenizer);
// --text or --text-ids (not both) and --tokenizer: the tokens eval-like commands score.
void add_text_options(CLI::App& sub, std::string& text, std::string& text_ids, std::string& tokenizer);
// A number as the user must write it: plain digits in [lo, hi]; no sign, no
// spaces, and nothing clamped (CLI11 alone takes "+8" and " 8", wraps "-1"
// into an unsigned and clamps 2^63 into an int64). Throws Error naming flag.
uint64_t parse_whole_number(const std::string& flag, const std::string& s, uint64_t lo, uint64_t hi);
// --ctx in 4..kMaxCtx (an Error while parsing otherwise); ctx holds the default.
inline constexpr uint64_t kMaxCtx = uint64_t{1} << 24;
void add_ctx_option(CLI::App& sub, int64_t& ctx);
// A whole number in 0..hi, checked while parsing like --ctx ("'1.5' is not a whole number (0..hi)").
CLI::Option* add_count_option(CLI::App& sub, const std::string& flag, int& value, int hi, const std::string& help);
// --preset, --include, --exclude, --role and --layers into s; `verb` says what happens
// to the selected tensors ("analyze", "fit").
void add_selection_options(CLI::App& sub, ct::TensorSelection& s, const std::string& verb);
// --seed, a whole number 0..2^64-1; seed holds the default.
void add_seed_option(CLI::App& sub, uint64_t& seed, const std::string& help = "seed of the random basis");
// --K as a comma-separated list ("8,64"), each in 1..100000; the default is Ks's value.
CLI::Option* add_k_list_option(CLI::App& sub, std::vector<int>& Ks, const std::string& help);
// --K as one number in 1..100000 (compress): a list is refused with a line that says so.
CLI::Option* add_k_option(CLI::App& sub, int& K, const std::string& help);
// A comma-separated list of basis names ("gaussian,dct"), in the given order.
CLI::Option* add_basis_list_option(CLI::App& sub, const std::string& flag, std::vector<ct::BasisKind>& bases,
                                   const std::string& help);
// One basis name.
CLI::Option* add_basis_option(CLI::App& sub, const std::string& flag, ct::BasisKind& basis, const std::string& help);

// A CLI11 transformer from names to enum values: one element of a list, or a
// single value. The error names the value and lists the accepted names.
template <typename E>
CLI::Validator names_to(std::map<std::string, E> names, const std::string& what) {
  std::string list;
  for (const auto& [name, value] : names) list += (list.empty() ? "" : ", ") + name;
  return CLI::Validator(
      [names, what, list](std::string& s) -> std::string {
        auto it = names.find(s);
        if (it == names.end()) return "unknown " + what + " '" + s + "' (" + list + ")";
        s = std::to_string(static_cast<int>(it->second));
        return "";
      },
      what);
}

// A number >= 0 (or > 0): the error reads "'x' is not a number >= 0" (CLI11's
// own NonNegativeNumber prints the whole range of a double instead).
CLI::Validator non_negative_number();
CLI::Validator positive_number();

// Ks sorted, each once (the order of --K does not matter).
std::vector<int> sorted_unique(std::vector<int> Ks);

}  // namespace ctscope::cli
