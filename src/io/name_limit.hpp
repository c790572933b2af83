// How long a name read from a checkpoint may be. Names are quoted in every
// message about their tensor; a name of megabytes would make each such message
// megabytes long, so one that no real checkpoint has is refused up front,
// quoting only its start.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace ctscope {

// Hugging Face names are under 100 bytes and GGML's own limit is 64; this
// leaves room for any real naming scheme.
inline constexpr size_t kMaxTensorNameBytes = 1024;

// Throws Error naming `where` when `name` (a tensor name or metadata key, as
// `what` says) is longer than kMaxTensorNameBytes.
void check_name_length(const std::string& where, std::string_view what, std::string_view name);

}  // namespace ctscope
