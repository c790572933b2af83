// The design holds: every #include between folders of src/ runs downhill as
// src/LAYERS says, every folder is a listed layer, and the spec the comments
// cite (docs/ct-analysis.md) is the shared one, unchanged.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "test_support.hpp"

namespace fs = std::filesystem;
using ctscope::test_support::slurp;

namespace {

const fs::path kSource = CTSCOPE_SOURCE_DIR;

// layer -> the layers it names (direct), in the order of the file.
std::map<std::string, std::vector<std::string>> read_layers(std::vector<std::string>& order) {
  std::ifstream in(kSource / "src" / "LAYERS");
  EXPECT_TRUE(in) << "src/LAYERS is missing";
  std::map<std::string, std::vector<std::string>> direct;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto colon = line.find(':');
    EXPECT_NE(colon, std::string::npos) << "src/LAYERS: no ':' in line '" << line << "'";
    if (colon == std::string::npos) continue;
    const std::string layer = line.substr(0, colon);
    std::istringstream rest(line.substr(colon + 1));
    std::vector<std::string> below;
    for (std::string w; rest >> w;) {
      EXPECT_TRUE(direct.count(w)) << "src/LAYERS: " << layer << " names " << w << ", which is not listed above it";
      below.push_back(w);
    }
    direct[layer] = below;
    order.push_back(layer);
  }
  return direct;
}

// Everything `layer` may include: the layers it names and, transitively, theirs.
std::set<std::string> reachable(const std::map<std::string, std::vector<std::string>>& direct, const std::string& layer) {
  std::set<std::string> out;
  std::vector<std::string> todo = direct.at(layer);
  while (!todo.empty()) {
    const std::string l = todo.back();
    todo.pop_back();
    if (out.insert(l).second)
      for (const auto& below : direct.at(l)) todo.push_back(below);
  }
  return out;
}

}  // namespace

TEST(Layers, EveryIncludeRunsDownhill) {
  std::vector<std::string> order;
  const auto direct = read_layers(order);
  ASSERT_FALSE(direct.empty());
  const std::regex include_re(R"(^\s*#\s*include\s*"([^"/]+)/)");
  int checked = 0;
  for (const auto& dir : fs::directory_iterator(kSource / "src")) {
    if (!dir.is_directory()) continue;
    const std::string layer = dir.path().filename().string();
    ASSERT_TRUE(direct.count(layer)) << "src/" << layer << " is not a layer in src/LAYERS";
    const std::set<std::string> allowed = reachable(direct, layer);
    for (const auto& f : fs::directory_iterator(dir.path())) {
      std::ifstream in(f.path());
      std::string line;
      for (int n = 1; std::getline(in, line); ++n) {
        std::smatch m;
        if (!std::regex_search(line, m, include_re)) continue;
        const std::string target = m[1];
        ++checked;
        EXPECT_TRUE(target == layer || allowed.count(target))
            << "src/" << layer << "/" << f.path().filename().string() << ":" << n << " includes " << target
            << "/, which is not below " << layer << " in src/LAYERS";
      }
    }
  }
  EXPECT_GT(checked, 100);  // the scan saw the tree
}

TEST(Layers, UpwardIncludeIsCaught) {
  // The rule itself can fail: linalg may not include ct, ct may not include runtime.
  std::vector<std::string> order;
  const auto direct = read_layers(order);
  EXPECT_FALSE(reachable(direct, "linalg").count("ct"));
  EXPECT_FALSE(reachable(direct, "ct").count("runtime"));
  EXPECT_FALSE(reachable(direct, "runtime").count("ct"));
  EXPECT_TRUE(reachable(direct, "cli").count("util"));
  // MPI stays in dist/, which only the command-line tool reaches (not the Python module, not report).
  EXPECT_TRUE(reachable(direct, "cli").count("dist"));
  EXPECT_FALSE(reachable(direct, "python").count("dist"));
  EXPECT_FALSE(reachable(direct, "report").count("dist"));
}

TEST(Spec, RepositoryCopyMatchesShared) {
  const fs::path shared = kSource / ".." / "shared" / "spec" / "ct-analysis.md";
  if (!fs::exists(shared)) GTEST_SKIP() << shared << " not found (tests need ../shared beside the checkout)";
  const std::string copy = slurp(kSource / "docs" / "ct-analysis.md");
  ASSERT_FALSE(copy.empty()) << "docs/ct-analysis.md is missing";
  EXPECT_TRUE(copy == slurp(shared)) << "docs/ct-analysis.md differs from " << shared
                                     << ": the spec changed; bring the code and the copy up to it";
}
