// ctscope: the thin command line over the library. Errors in input become one
// line on stderr and exit code 2.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string_view>

#include "cli/command.hpp"
#include "linalg/blas_core.hpp"
#include "util/error.hpp"
#include "util/temporaries.hpp"
#include "util/version.hpp"

namespace ctscope::cli {

std::vector<CommandSpec>& registry() {
  static std::vector<CommandSpec> r;
  return r;
}

namespace {

// What every command shares, shown at the end of `ctscope --help`.
constexpr const char* kConventions =
    "\nConventions (every command):\n"
    "  outputs    --json FILE, --csv FILE, -o FILE...: FILE is replaced atomically (a symlink's target is);\n"
    "             '-' is standard output (the report then goes to stderr); a FIFO or /dev/null is written\n"
    "             as is; an output that is one of the inputs is refused\n"
    "  -q         only errors and the outputs you name; --progress auto|bar|lines|none on long commands\n"
    "  -v         (before the command: ctscope -v analyze ...) also say which BLAS kernels run and why\n"
    "  help       ctscope help COMMAND (= ctscope COMMAND --help), ctscope version (= --version, -V)\n"
    "\nExample:\n"
    "  ctscope analyze model.gguf --K 8,64 --json result.json\n";

// Levenshtein distance: how far a misspelt command is from a real one.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The one line for a word that is not a command: the nearest command when it
// is close (analyse -> analyze, evl -> eval), else the list.
std::string unknown_command(const std::string& word, const std::vector<std::string>& commands) {
  std::string best, all;
  size_t best_d = SIZE_MAX;
  for (const auto& c : commands) {
    all += (all.empty() ? "" : ", ") + c;
    const size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  if (best_d <= std::max<size_t>(2, best.size() / 3))
    return std::string("unknown command '") + word + "': did you mean '" + best + "'? (see ctscope --help)";
  return std::string("unknown command '") + word + "' (commands: " + all + ")";
}

}  // namespace
}  // namespace ctscope::cli

int main(int argc, char** argv) {
  using namespace ctscope;
  // First, before any BLAS call: OpenBLAS on kernels older than the CPU runs
  // means this process starts again with better ones (linalg/blas_core.hpp).
  const std::string blas_note = linalg::ensure_blas_core(argv);
  remove_temporaries_on_signals();
  CLI::App app{"ctscope: look inside the weights of Llama-family language models.\n"
               "Measures the Crystallization Transform (CT) analysis of Paper 68 exactly,\n"
               "beside the SVD (best possible) and random (null) baselines.",
               "ctscope"};  // usage lines say "ctscope analyze", not the binary's path
  app.set_version_flag("-V,--version", version_line());
  app.require_subcommand(1);
  app.footer(cli::kConventions);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "say which BLAS kernels run (and whether ctscope corrected OpenBLAS's choice)");
  // Every usage error is one line, like every other input error.
  app.failure_message([](const CLI::App* a, const CLI::Error& e) {
    const auto parsed = a->get_subcommands();
    const std::string help =
        std::string("ctscope ") + (parsed.empty() ? std::string() : parsed.front()->get_name() + " ") + "--help";
    return std::string("ctscope: error: ") + e.what() + " (see " + help + ")\n";
  });
  auto& reg = cli::registry();
  std::sort(reg.begin(), reg.end(), [](auto& a, auto& b) { return a.order < b.order; });
  std::map<CLI::App*, cli::Action> actions;
  std::vector<std::string> names;
  for (auto& c : reg) {
    CLI::App* sub = app.add_subcommand(c.name, c.description);
    actions[sub] = c.setup(*sub);
    names.push_back(c.name);
  }
  std::string topic;
  CLI::App* help = app.add_subcommand("help", "Show the help of ctscope, or of one command: ctscope help analyze");
  help->add_option("COMMAND", topic, "the command to explain");
  CLI::App* version = app.add_subcommand("version", "Show the version (and the git commit of the build)");
  names.push_back("help");
  names.push_back("version");

  // A misspelt command: say which one was meant, before CLI11 calls it an extra argument.
  if (argc > 1 && argv[1][0] != '-' && std::find(names.begin(), names.end(), argv[1]) == names.end()) {
    print_error_line(cli::unknown_command(argv[1], names).c_str());
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const Error& e) {  // thrown by validators
    print_error_line(e.what());
    return 2;
  }
  if (verbose) std::fprintf(stderr, "ctscope: %s\n", blas_note.c_str());
  try {
    if (version->parsed()) {
      std::printf("%s\n", version_line().c_str());
      return 0;
    }
    if (help->parsed()) {
      if (topic.empty()) {
        // Not app.help(): with "help" parsed, that would describe the help command.
        std::fputs(app.get_formatter()->make_help(&app, "ctscope", CLI::AppFormatMode::Normal).c_str(), stdout);
        return 0;
      }
      if (std::find(names.begin(), names.end(), topic) == names.end()) throw Error(cli::unknown_command(topic, names));
      std::fputs(app.get_subcommand(topic)->help("ctscope").c_str(), stdout);
      return 0;
    }
    for (auto& [sub, action] : actions)
      if (sub->parsed()) {
        cli::prepare_outputs(*sub);
        return action();
      }
  } catch (const Error& e) {
    print_error_line(e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    print_error_line("out of memory");
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ctscope: internal error: %s\n", e.what());
    return 3;
  }
  return 0;
}
