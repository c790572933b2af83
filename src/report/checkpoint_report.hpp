// Renderings of a checkpoint's contents for `inspect`: the tensor table with
// totals and config, and the same as JSON.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "io/checkpoint.hpp"

namespace ctscope::report {

std::string checkpoint_text(const Checkpoint& ck);
nlohmann::json checkpoint_json(const Checkpoint& ck);

}  // namespace ctscope::report
