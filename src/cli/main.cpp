// ctscope: the thin command line over the library. Errors in input become one
// line on stderr and exit code 2.
#include <algorithm>
#include <cstdio>
#include <map>

#include "cli/command.hpp"
#include "util/error.hpp"

namespace ctscope::cli {

std::vector<CommandSpec>& registry() {
  static std::vector<CommandSpec> r;
  return r;
}

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

}  // namespace ctscope::cli

int main(int argc, char** argv) {
  using namespace ctscope;
  CLI::App app{"ctscope: look inside the weights of Llama-family language models.\n"
               "Measures the Crystallization Transform (CT) analysis of Paper 68 exactly,\n"
               "beside the SVD (best possible) and random (null) baselines."};
  app.set_version_flag("--version", std::string("ctscope ") + CTSCOPE_VERSION);
  app.require_subcommand(1);
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
