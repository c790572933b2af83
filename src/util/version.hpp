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
// "0.1.0 (db9bde2)" or "0.1.0": what --version prints after the name.
std::string version_line();

}  // namespace ctscope
