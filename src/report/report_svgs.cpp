// `ctscope report --svg DIR`: the page's figures as files, drawn by Vega's
// headless renderer (view.toSVG()) under Node.js - the same bundles and the
// same figure code (web/report.js) as the page, run by web/svg_export.js.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "report/html_report.hpp"
#include "report/web_assets.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/json_text.hpp"
#include "util/temporaries.hpp"

extern char** environ;

namespace ctscope::report {

namespace fs = std::filesystem;

namespace {

// The first executable `name` on PATH, or "".
std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const fs::path p = fs::path(dir.empty() ? "." : dir) / name;
    if (access(p.c_str(), X_OK) == 0 && fs::is_regular_file(p)) return p.string();
  }
  return "";
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
  if (!out.flush()) fail(p.string(), "cannot write this temporary file");
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs argv, its output on our stderr (Node's messages are one line each); the exit status.
int run_process(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);  // stdout may hold another output
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A private temporary folder, removed on destruction (and on a signal).
struct TempDir {
  fs::path path;
  std::unique_ptr<TemporaryRegistration> reg;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ctscope-svg-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw Error("ctscope report --svg: cannot create a temporary folder in " +
                                           fs::temp_directory_path().string());
    path = tmpl;
    reg = std::make_unique<TemporaryRegistration>(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

std::vector<std::string> write_report_svgs(const std::vector<ResultFile>& results, const std::string& dir) {
  const std::string node = find_on_path("node");
  if (node.empty())
    fail(dir, "--svg needs Node.js (`node` on PATH) to draw the figures headless: install it (Debian: apt-get "
              "install nodejs; scripts/install-deps.sh), or save each figure from the page's ... menu");
  if (!charting_available()) (void)html_report(results);  // the Error that says how to get the bundles
  TempDir tmp;
  write_text(tmp.path / "vega.min.js", vega_js());
  write_text(tmp.path / "vega-lite.min.js", vega_lite_js());
  write_text(tmp.path / "report.js", report_js());
  write_text(tmp.path / "svg_export.js", svg_export_js());
  write_text(tmp.path / "data.json", json_text(report_payload(results)));
  fs::create_directory(tmp.path / "out");
  const int rc = run_process({node, (tmp.path / "svg_export.js").string(), (tmp.path / "data.json").string(),
                              (tmp.path / "out").string()});
  if (rc != 0) fail(dir, "--svg: Node.js could not draw the figures (exit status {}; its message is above)", rc);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir)) fail(dir, "--svg: cannot create this folder");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(tmp.path / "out")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  for (const auto& n : names) write_file_atomic((fs::path(dir) / n).string(), read_text(tmp.path / "out" / n));
  return names;
}

}  // namespace ctscope::report
