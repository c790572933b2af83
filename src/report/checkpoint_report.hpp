// Renderings of a checkpoint's contents for `inspect`: the tensor table with
// totals and config, and the same as JSON. A .ct.safetensors is shown as the
// model it stands for: the source's tensors (each fitted, stored dense or an
// alias), config and vocabulary, with the basis and K; its JSON keeps the
// ordinary keys (config and vocab_tokens the source's) and adds "ct".
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "io/checkpoint.hpp"

namespace ctscope::report {

std::string checkpoint_text(const Checkpoint& ck);
nlohmann::json checkpoint_json(const Checkpoint& ck);

}  // namespace ctscope::report
