// Every checkpoint reader (the first byte picks safetensors, GGUF or llama2.c),
// then what commands do with a checkpoint: list it, read each tensor as float.
#include "fuzz_input.hpp"
#include "io/checkpoint.hpp"
#include "report/checkpoint_report.hpp"
#include "util/error.hpp"
#include "util/json_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const char* kNames[] = {"m.safetensors", "m.gguf", "m.bin"};
  const auto path = ctscope::fuzz::write_input(data + 1, size - 1, kNames[data[0] % 3]);
  try {
    const auto ck = ctscope::Checkpoint::open(path);
    (void)ctscope::json_text(ctscope::report::checkpoint_json(ck));
    for (const auto& t : ck.tensors)
      if (t.numel() <= (uint64_t{1} << 20) && ctscope::traits(t.dtype).to_f32) (void)ck.read_f32(t);
  } catch (const ctscope::Error&) {
  }
  return 0;
}
