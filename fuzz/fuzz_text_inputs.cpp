// The small text inputs: a token-id file, a config.json, a llama2.c
// tokenizer.bin (its vocabulary size from the second byte, times 4) and a
// Hugging Face tokenizer.json, then encoding and decoding tricky text with it.
// The first byte picks which.
#include <nlohmann/json.hpp>

#include "fuzz_input.hpp"
#include "io/llama2c_tokenizer_file.hpp"
#include "model/config.hpp"
#include "text/hf_tokenizer_json.hpp"
#include "text/token_ids.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  try {
    switch (data[0] % 4) {
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
      default: {
        const auto tok = ctscope::load_hf_tokenizer_json(
            ctscope::fuzz::write_input(data + 2, size - 2, "tokenizer.json"), 1, 2);
        const auto ids = tok->encode(" Hello  wörld 12345\n\n🙂<s>don't", true);
        int32_t prev = -1;
        for (int32_t id : ids) {
          (void)tok->decode(prev, id);
          prev = id;
        }
      }
    }
  } catch (const ctscope::Error&) {
  }
  return 0;
}
