// ctscope: the thin command line over the library. Errors in input become one
// line on stderr and exit code 2.
#include <algorithm>
#include <cstdio>
#include <map>

#include "cli/command.hpp"
#include "util/error.hpp"
#include "util/temporaries.hpp"

namespace ctscope::cli {

std::vector<CommandSpec>& registry() {
  static std::vector<CommandSpec> r;
  return r;
}

}  // namespace ctscope::cli

int main(int argc, char** argv) {
  using namespace ctscope;
  remove_temporaries_on_signals();
  CLI::App app{"ctscope: look inside the weights of Llama-family language models.\n"
               "Measures the Crystallization Transform (CT) analysis of Paper 68 exactly,\n"
               "beside the SVD (best possible) and random (null) baselines."};
  app.set_version_flag("--version", std::string("ctscope ") + CTSCOPE_VERSION);
  app.require_subcommand(1);
  // Every usage error is one line, like every other input error.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("ctscope: error: ") + e.what() + " (see --help)\n";
  });
  auto& reg = cli::registry();
  std::sort(reg.begin(), reg.end(), [](auto& a, auto& b) { return a.order < b.order; });
  std::map<CLI::App*, cli::Action> actions;
  for (auto& c : reg) {
    CLI::App* sub = app.add_subcommand(c.name, c.description);
    actions[sub] = c.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const Error& e) {  // thrown by validators
    std::fprintf(stderr, "ctscope: error: %s\n", e.what());
    return 2;
  }
  try {
    for (auto& [sub, action] : actions)
      if (sub->parsed()) return action();
  } catch (const Error& e) {
    std::fprintf(stderr, "ctscope: error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "ctscope: error: out of memory\n");
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ctscope: internal error: %s\n", e.what());
    return 3;
  }
  return 0;
}
