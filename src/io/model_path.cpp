#include "io/model_path.hpp"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "util/error.hpp"

namespace ctscope {
namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// A Hugging Face repo id: ORG/NAME, each part of letters, digits, '-', '_', '.'
// (no "..", no leading '.'), as the hub allows them.
bool looks_like_repo_id(const std::string& s) {
  const size_t slash = s.find('/');
  if (slash == std::string::npos || s.find('/', slash + 1) != std::string::npos) return false;
  auto part_ok = [](std::string_view p) {
    if (p.empty() || p.size() > 96 || p.front() == '.' || p.find("..") != std::string_view::npos) return false;
    for (char c : p)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
    return true;
  };
  return part_ok(std::string_view(s).substr(0, slash)) && part_ok(std::string_view(s).substr(slash + 1));
}

// A cache root: no config.json of its own, but the hub's refs/ or snapshots/.
bool is_cache_root(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && !fs::exists(dir / "config.json", ec) &&
         (fs::is_directory(dir / "snapshots", ec) || fs::is_directory(dir / "refs", ec));
}

// A revision as refs/main holds it: a commit hash (or another plain name),
// one short line; anything else is refused rather than used as a path.
std::string read_ref(const fs::path& ref) {
  std::ifstream in(ref, std::ios::binary);
  char buf[129] = {};
  in.read(buf, sizeof buf - 1);
  std::string s(buf, static_cast<size_t>(in.gcount()));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  bool ok = !s.empty() && s.size() < 128 && s != "." && s != "..";
  for (char c : s) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  if (!ok) fail(ref.string(), "not a revision (expected one line holding a commit hash)");
  return s;
}

fs::path snapshot_of(const fs::path& root) {
  std::error_code ec;
  const fs::path ref = root / "refs" / "main";
  if (fs::is_regular_file(ref, ec)) {
    const fs::path snap = root / "snapshots" / read_ref(ref);
    if (!fs::is_directory(snap, ec))
      fail(ref.string(), "names snapshot {}, which is missing (an incomplete download?)", snap.filename().string());
    return snap;
  }
  // No refs/main (a download of another revision): a lone snapshot is unambiguous.
  std::vector<fs::path> snaps;
  for (fs::directory_iterator it(root / "snapshots", ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec)) snaps.push_back(it->path());
  if (snaps.size() == 1) return snaps.front();
  fail(root.string(), "a Hugging Face cache folder without refs/main and with {} snapshots; give the snapshot "
       "directory (snapshots/<hash>) as MODEL", snaps.size());
}

}  // namespace

fs::path hf_hub_cache_dir() {
  if (auto v = env("HF_HUB_CACHE"); !v.empty()) return v;
  if (auto v = env("HUGGINGFACE_HUB_CACHE"); !v.empty()) return v;  // the older name
  if (auto v = env("HF_HOME"); !v.empty()) return fs::path(v) / "hub";
  if (auto v = env("XDG_CACHE_HOME"); !v.empty()) return fs::path(v) / "huggingface" / "hub";
  return fs::path(env("HOME")) / ".cache" / "huggingface" / "hub";
}

fs::path resolve_model_path(const fs::path& given) {
  std::error_code ec;
  if (fs::exists(given, ec)) return is_cache_root(given) ? snapshot_of(given) : given;
  const std::string s = given.string();
  if (!looks_like_repo_id(s)) return given;  // the caller says "no such file"
  const fs::path root = hf_hub_cache_dir() / ("models--" + s.substr(0, s.find('/')) + "--" + s.substr(s.find('/') + 1));
  if (!fs::is_directory(root, ec))
    fail(s, "no such file or directory, nor a downloaded Hugging Face model (looked for {}; ctscope does not "
         "download: run `huggingface-cli download {}` first)", root.string(), s);
  return snapshot_of(root);
}

}  // namespace ctscope
