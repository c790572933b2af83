#include "io/name_limit.hpp"

#include "util/error.hpp"

namespace ctscope {

void check_name_length(const std::string& where, std::string_view what, std::string_view name) {
  if (name.size() <= kMaxTensorNameBytes) return;
  fail(where, "a {} of {} bytes (at most {}): '{}...'", what, name.size(), kMaxTensorNameBytes, name.substr(0, 40));
}

}  // namespace ctscope
