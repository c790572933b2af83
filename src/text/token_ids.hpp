// Token-id files, accepted wherever text is (--prompt-ids, --text-ids): either a
// JSON array of integers or whitespace/newline-separated integers (one per line).
#pragma once
#include <cstdint>
#include <filesystem>
#include <vector>

namespace ctscope {

std::vector<int32_t> read_token_ids(const std::filesystem::path& file);
// Error naming `where` if any id is outside [0, vocab_size).
void check_token_ids(const std::vector<int32_t>& ids, int64_t vocab_size, const std::string& where);

}  // namespace ctscope
