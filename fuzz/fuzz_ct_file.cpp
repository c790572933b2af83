// A .ct.safetensors: its metadata (JSON in a safetensors header) and the
// tensors rebuilt from it, as reconstruct and eval read them.
#include "ctfile/ct_reader.hpp"
#include "fuzz_input.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = ctscope::fuzz::write_input(data, size, "m.ct.safetensors");
  try {
    const ctscope::ctfile::CtReader c(ctscope::Checkpoint::open(path));
    for (const auto& e : c.entries()) {
      uint64_t n = 1;
      for (auto d : e.shape) n *= static_cast<uint64_t>(d);
      if (n <= (uint64_t{1} << 20)) (void)c.tensor_f32(e);
    }
  } catch (const ctscope::Error&) {
  }
  return 0;
}
