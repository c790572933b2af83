// Each subcommand lives in its own cmd_*.cpp and registers itself here, so
// adding a command touches no shared file.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "ct/basis.hpp"
#include "ct/model_analysis.hpp"

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
void add_model_arg(CLI::App& sub, std::string& model);  // the required positional MODEL
void add_tokenizer_option(CLI::App& sub, std::string& tokenizer);
// --text or --text-ids (not both) and --tokenizer: the tokens eval-like commands score.
void add_text_options(CLI::App& sub, std::string& text, std::string& text_ids, std::string& tokenizer);
// --ctx, at least 4 (an Error while parsing otherwise); ctx holds the default.
void add_ctx_option(CLI::App& sub, int64_t& ctx);
// --preset, --include and --exclude into s; `verb` says what happens
// to the selected tensors ("analyze", "fit").
void add_selection_options(CLI::App& sub, ct::AnalysisSettings& s, const std::string& verb);

// Value parsers shared by commands.
std::vector<int> parse_k_list(const std::string& s);  // "8,64" -> {8, 64}; throws Error on bad input
// "gaussian,dct" -> {Gaussian, Dct}, in the given order; `flag` names the option in errors.
std::vector<ct::BasisKind> parse_basis_list(const std::string& s, const std::string& flag);

}  // namespace ctscope::cli
