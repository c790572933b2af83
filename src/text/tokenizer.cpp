#include "text/tokenizer.hpp"

#include <fmt/format.h>

#include "text/bpe_tokenizer.hpp"
#include "text/hf_tokenizer_json.hpp"
#include "text/sentencepiece_tokenizer.hpp"
#include "io/checkpoint.hpp"
#include "util/error.hpp"

namespace ctscope {
namespace fs = std::filesystem;

namespace {

// Which reader a tokenizer file needs, by its name: tokenizer.json (Hugging Face
// tokenizers), a SentencePiece .model, else a llama2.c tokenizer.bin.
std::unique_ptr<Tokenizer> load_tokenizer_file(const fs::path& file, const Checkpoint& ck) {
  if (file.extension() == ".json")
    return load_hf_tokenizer_json(file, static_cast<int32_t>(ck.config.bos_id), static_cast<int32_t>(ck.config.eos_id));
  if (file.extension() == ".model") return load_sentencepiece_tokenizer(file);
  return load_llama2c_tokenizer(file, ck.config.vocab_size);
}

// The tokenizer files looked for beside a model, best first: what Hugging Face
// directories hold (tokenizer.json, then tokenizer.model), and for a llama2.c
// .bin its tokenizer.bin - by llama2.c's default name, or tok<vocab>.bin as
// llama2.c names the ones it trains (tok512.bin beside stories260K.bin).
std::vector<fs::path> candidates_beside(const Checkpoint& ck) {
  std::error_code ec;
  const fs::path dir = fs::is_directory(ck.path, ec) ? ck.path : ck.path.parent_path();
  const std::string tok_v = fmt::format("tok{}.bin", ck.config.vocab_size);
  if (ck.format == Format::Llama2c) return {dir / "tokenizer.bin", dir / tok_v, dir / "tokenizer.model"};
  return {dir / "tokenizer.json", dir / "tokenizer.model"};
}

}  // namespace

std::unique_ptr<Tokenizer> open_tokenizer(const Checkpoint& ck, const std::optional<fs::path>& explicit_path) {
  const int64_t model_vocab = ck.config.vocab_size;
  std::unique_ptr<Tokenizer> tok;
  std::string where;
  std::error_code ec;
  if (explicit_path) {
    where = explicit_path->string();
    if (!fs::is_regular_file(*explicit_path, ec)) fail(where, "no such tokenizer file");
    tok = load_tokenizer_file(*explicit_path, ck);
  } else if (ck.vocab && !ck.vocab->tokens.empty()) {
    where = ck.path.string();
    tok = bpe_from_vocabulary(*ck.vocab, where, static_cast<int32_t>(ck.config.bos_id),
                              static_cast<int32_t>(ck.config.eos_id));
  } else {
    const auto candidates = candidates_beside(ck);
    for (const auto& c : candidates)
      if (fs::is_regular_file(c, ec)) {
        where = c.string();
        tok = load_tokenizer_file(c, ck);
        break;
      }
    if (!tok) {
      std::string looked;
      for (const auto& c : candidates) looked += (looked.empty() ? "" : ", ") + c.filename().string();
      fail(ck.path.string(), "no tokenizer found beside the model (looked for {} in {}); pass --tokenizer FILE "
           "(tokenizer.json, tokenizer.model or llama2.c tokenizer.bin)", looked, candidates[0].parent_path().string());
    }
  }
  // A tokenizer.json may be smaller than the embedding (Qwen2 pads it to a
  // multiple of 128): the extra rows are never produced. Any other mismatch means
  // the wrong tokenizer.
  const bool padded_ok = where.size() >= 5 && where.compare(where.size() - 5, 5, ".json") == 0;
  if (tok->vocab_size() > model_vocab || (tok->vocab_size() < model_vocab && !padded_ok))
    fail(where, "tokenizer has {} tokens but the model's vocabulary has {}; pass --tokenizer with the model's own",
         tok->vocab_size(), model_vocab);
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
