#include "text/tokenizer.hpp"

#include "text/bpe_tokenizer.hpp"
#include "text/sentencepiece_tokenizer.hpp"
#include "io/checkpoint.hpp"
#include "util/error.hpp"

namespace ctscope {

std::unique_ptr<Tokenizer> open_tokenizer(const Checkpoint& ck,
                                          const std::optional<std::filesystem::path>& explicit_path) {
  const int64_t model_vocab = ck.config.vocab_size;
  std::unique_ptr<Tokenizer> tok;
  std::string where;
  if (explicit_path) {
    where = explicit_path->string();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(*explicit_path, ec)) fail(where, "no such tokenizer file");
    if (explicit_path->extension() == ".model") tok = load_sentencepiece_tokenizer(*explicit_path);
    else tok = load_llama2c_tokenizer(*explicit_path, model_vocab);
  } else if (ck.vocab && !ck.vocab->tokens.empty()) {
    where = ck.path.string();
    tok = bpe_from_vocabulary(*ck.vocab, where, static_cast<int32_t>(ck.config.bos_id),
                              static_cast<int32_t>(ck.config.eos_id));
  } else {
    std::error_code ec;
    const auto sp = ck.path / "tokenizer.model";
    if (std::filesystem::is_directory(ck.path, ec) && std::filesystem::is_regular_file(sp, ec)) {
      where = sp.string();
      tok = load_sentencepiece_tokenizer(sp);
    } else {
      fail(ck.path.string(), "no tokenizer found with the model; pass --tokenizer FILE (tokenizer.bin or tokenizer.model)");
    }
  }
  if (tok->vocab_size() != model_vocab)
    fail(where, "tokenizer has {} tokens but the model's vocabulary has {}", tok->vocab_size(), model_vocab);
  return tok;
}

std::string with_plain_spaces(std::string_view piece, std::string_view space) {
  std::string out;
  for (size_t p = 0; p < piece.size();) {
    if (piece.substr(p, space.size()) == space) {
      out += ' ';
      p += space.size();
    } else {
      out += piece[p++];
    }
  }
  return out;
}

}  // namespace ctscope
