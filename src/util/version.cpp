#include "util/version.hpp"

// Only this file gets the commit (CMakeLists.txt), so a new commit recompiles one file.
#ifndef CTSCOPE_GIT_DESCRIBE
#define CTSCOPE_GIT_DESCRIBE ""
#endif

namespace ctscope {

std::string_view version() { return CTSCOPE_VERSION; }

std::string_view git_describe() { return CTSCOPE_GIT_DESCRIBE; }

std::string version_line() {
  std::string s = std::string("ctscope ") + std::string(version());
  if (!git_describe().empty()) s += std::string(" (git ") + std::string(git_describe()) + ")";
  return s;
}

}  // namespace ctscope
