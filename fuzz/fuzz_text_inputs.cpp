// The small text inputs: a token-id file, a config.json, a llama2.c
// tokenizer.bin (its vocabulary size from the second byte, times 4), a
// Hugging Face tokenizer.json and a SentencePiece tokenizer.model (read by
// libsentencepiece; what ctscope does with what it returns is under test), the
// last two then encoding and decoding tricky text. The first byte picks which.
#include <nlohmann/json.hpp>

#include "fuzz_input.hpp"
#include "io/llama2c_tokenizer_file.hpp"
#include "model/config.hpp"
#include "text/hf_tokenizer_json.hpp"
#include "text/sentencepiece_tokenizer.hpp"
#include "text/token_ids.hpp"
#include "util/error.hpp"

namespace {

// Text with what tokenizers trip on: runs of spaces, digits, newlines, a
// 4-byte character, a special token's spelling, an apostrophe. Every id
// encode gives is decoded, and so is every id of the vocabulary.
void encode_and_decode(const ctscope::Tokenizer& tok) {
  const auto ids = tok.encode(" Hello  wörld 12345\n\n🙂<s>don't", true);
  int32_t prev = -1;
  for (int32_t id : ids) {
    (void)tok.decode(prev, id);
    prev = id;
  }
  for (int64_t id = 0; id < tok.vocab_size() && id < 4096; ++id) (void)tok.decode(tok.bos_id(), static_cast<int32_t>(id));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  try {
    switch (data[0] % 5) {
      case 0:
        (void)ctscope::read_token_ids(ctscope::fuzz::write_input(data + 2, size - 2, "ids.json"));
        break;
      case 1: {
        const auto j = nlohmann::json::parse(data + 2, data + size, nullptr, /*allow_exceptions=*/false);
        if (!j.is_discarded()) (void)ctscope::from_hf_config(j, "config.json");
        break;
      }
      case 2:
        (void)ctscope::read_llama2c_tokenizer(ctscope::fuzz::write_input(data + 2, size - 2, "tokenizer.bin"),
                                              4 * data[1]);
        break;
      case 3:
        encode_and_decode(*ctscope::load_hf_tokenizer_json(
            ctscope::fuzz::write_input(data + 2, size - 2, "tokenizer.json"), 1, 2));
        break;
      default:
        encode_and_decode(
            *ctscope::load_sentencepiece_tokenizer(ctscope::fuzz::write_input(data + 2, size - 2, "tokenizer.model")));
    }
  } catch (const ctscope::Error&) {
  }
  return 0;
}
