#include "text/eval_tokens.hpp"

#include <optional>

#include "text/token_ids.hpp"
#include "text/tokenizer.hpp"
#include "util/error.hpp"
#include "util/mapped_file.hpp"

namespace ctscope {

std::string_view without_one_trailing_newline(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  return text;
}

EvalTokens load_eval_tokens(const Checkpoint& ck, const std::string& text_file, const std::string& ids_file,
                            const std::string& tokenizer_path) {
  if (text_file.empty() == ids_file.empty()) throw Error("give exactly one of --text FILE or --text-ids FILE");
  EvalTokens t;
  if (!ids_file.empty()) {
    t.where = ids_file;
    t.ids = read_token_ids(ids_file);
    check_token_ids(t.ids, ck.config.vocab_size, ids_file);
    return t;
  }
  t.where = text_file;
  const auto text = MappedFile::open(text_file);  // a regular file: its size bounds what is read
  auto tok = open_tokenizer(ck, tokenizer_path.empty() ? std::nullopt : std::optional<std::filesystem::path>(tokenizer_path));
  t.ids = tok->encode(without_one_trailing_newline(text->text()), /*add_bos=*/true);
  return t;
}

}  // namespace ctscope
