// Which ctscope this is: the release version, and the git commit the build was
// configured from (CMake runs `git describe` at configure time; empty when the
// source is not a git checkout, e.g. an unpacked release or a pip sdist).
#pragma once
#include <string>
#include <string_view>

namespace ctscope {

std::string_view version();       // "0.1.0"
std::string_view git_describe();  // "db9bde2a41f3", "db9bde2a41f3-dirty", a tag, or ""
std::string version_line();       // "ctscope 0.1.0 (git db9bde2a41f3)", or "ctscope 0.1.0"

}  // namespace ctscope
