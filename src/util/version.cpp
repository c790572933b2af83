#include "util/version.hpp"

// CMakeLists.txt defines both for this file alone, so a new commit recompiles
// one file; the fallbacks keep other build systems (fuzz, pip) compiling.
#ifndef CTSCOPE_VERSION
#define CTSCOPE_VERSION "unknown"
#endif
#ifndef CTSCOPE_GIT_COMMIT
#define CTSCOPE_GIT_COMMIT ""
#endif

namespace ctscope {

const char* version_string() { return CTSCOPE_VERSION; }

const char* git_commit() { return CTSCOPE_GIT_COMMIT; }

std::string version_line() {
  std::string v = std::string("ctscope ") + version_string();
  if (*git_commit()) v += std::string(" (git ") + git_commit() + ")";
  return v;
}

}  // namespace ctscope
