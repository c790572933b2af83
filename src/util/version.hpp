// Which build of ctscope this is, for --version and for every JSON result (so a
// number can be traced to the code that computed it).
#pragma once
#include <string>

namespace ctscope {

// The project version from CMakeLists.txt, e.g. "0.1.0".
const char* version_string();
// `git describe --always --dirty` of the checkout at configure time (e.g.
// "db9bde2" or "db9bde2-dirty"); "" when not built from a git checkout.
const char* git_commit();
// "ctscope 0.1.0 (git db9bde2)", or "ctscope 0.1.0" outside a checkout: what --version prints.
std::string version_line();

}  // namespace ctscope
