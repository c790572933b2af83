// JSON text for reports. Tensor names and GGUF strings are the file's bytes and
// need not be valid UTF-8: a report shows them with U+FFFD in place of a bad
// byte instead of failing. (Files ctscope writes are stricter: see
// safetensors_header, which refuses such names.)
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace ctscope {

inline std::string json_text(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ctscope
