#include "io/llama2c_tokenizer_file.hpp"

#include <cstring>

#include "util/error.hpp"
#include "util/resource_limits.hpp"
#include "util/mapped_file.hpp"

namespace ctscope {

Vocabulary read_llama2c_tokenizer(const std::filesystem::path& file, int64_t vocab_size) {
  const std::string where = file.string();
  auto f = MappedFile::open(where);
  const std::byte* p = f->data();
  const uint64_t size = f->size();
  uint64_t off = 0;
  auto need = [&](uint64_t n, const char* what, int64_t i) {
    if (size - off < n)
      fail(where, "ends inside the {} of token {} but the model has {} tokens (truncated, or another model's tokenizer)",
           what, i, vocab_size);
  };
  if (size < 4) fail(where, "truncated: no header (llama2.c tokenizer.bin expected)");
  int32_t max_len = 0;
  std::memcpy(&max_len, p, 4);
  off = 4;
  if (max_len <= 0) fail(where, "bad max_token_length {} (not a llama2.c tokenizer.bin?)", max_len);
  limits::check(where, "max_token_length", static_cast<uint64_t>(max_len), limits::kMaxTokenBytes, "bytes of one token");
  Vocabulary v;
  v.model = "llama2.c";
  auto& pieces = v.tokens;
  auto& scores = v.scores;
  pieces.reserve(static_cast<size_t>(vocab_size));
  scores.reserve(static_cast<size_t>(vocab_size));
  for (int64_t i = 0; i < vocab_size; ++i) {
    need(8, "score/length", i);
    float score = 0;
    int32_t len = 0;
    std::memcpy(&score, p + off, 4);
    std::memcpy(&len, p + off + 4, 4);
    off += 8;
    if (len < 0 || len > max_len) fail(where, "token {} has length {} (max_token_length {})", i, len, max_len);
    need(static_cast<uint64_t>(len), "bytes", i);
    pieces.emplace_back(reinterpret_cast<const char*>(p + off), static_cast<size_t>(len));
    scores.push_back(score);
    off += static_cast<uint64_t>(len);
  }
  if (off != size)
    fail(where, "{} bytes left after {} tokens: its vocabulary is larger than the model's ({})", size - off,
         vocab_size, vocab_size);
  return v;
}

}  // namespace ctscope
