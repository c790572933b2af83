#include "ct/compressed_weights.hpp"

#include "ct/compressed.hpp"

namespace ctscope::ct {

Checkpoint open_runnable_checkpoint(const std::filesystem::path& path) {
  Checkpoint ck = Checkpoint::open(path);
  if (CompressedCheckpoint::is_compressed(ck)) ck.config = CompressedCheckpoint(ck).config();
  return ck;
}

LlamaWeights load_runnable_weights(const Checkpoint& ck) {
  if (!CompressedCheckpoint::is_compressed(ck)) return load_llama_weights(ck);
  const CompressedCheckpoint c(ck);
  return load_llama_weights(
      c.config(),
      [&](int layer, Role role) -> std::vector<float> {
        const auto* e = c.find(layer, role);
        if (!e || (role == Role::LmHead && !e->alias_of.empty())) return {};  // tied classifier
        return c.tensor_f32(*e);
      },
      ck.path.string());
}

}  // namespace ctscope::ct
