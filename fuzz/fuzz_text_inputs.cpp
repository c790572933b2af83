// The small text inputs: a token-id file, a config.json, and a llama2.c
// tokenizer.bin (the first byte picks which; its vocabulary size from the second, times 4).
#include <nlohmann/json.hpp>

#include "fuzz_input.hpp"
#include "io/llama2c_tokenizer_file.hpp"
#include "model/config.hpp"
#include "text/token_ids.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  try {
    switch (data[0] % 3) {
      case 0:
        (void)ctscope::read_token_ids(ctscope::fuzz::write_input(data + 2, size - 2, "ids.json"));
        break;
      case 1: {
        const auto j = nlohmann::json::parse(data + 2, data + size, nullptr, /*allow_exceptions=*/false);
        if (!j.is_discarded()) (void)ctscope::from_hf_config(j, "config.json");
        break;
      }
      default:
        (void)ctscope::read_llama2c_tokenizer(ctscope::fuzz::write_input(data + 2, size - 2, "tokenizer.bin"),
                                              4 * data[1]);
    }
  } catch (const ctscope::Error&) {
  }
  return 0;
}
