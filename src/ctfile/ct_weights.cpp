#include "ctfile/ct_weights.hpp"

#include "ctfile/ct_reader.hpp"

namespace ctscope::ctfile {

Checkpoint open_for_inference(const std::filesystem::path& path) {
  Checkpoint ck = Checkpoint::open(path);
  if (is_ct_file(ck)) {
    const CtReader c(ck);
    ck.config = c.config();
    ck.vocab = c.vocabulary();  // what open_tokenizer uses when no --tokenizer is given
  }
  return ck;
}

LlamaWeights load_inference_weights(const Checkpoint& ck) {
  if (!is_ct_file(ck)) return load_llama_weights(ck);
  const CtReader c(ck);
  return load_llama_weights(
      c.config(),
      [&](int layer, Role role) -> std::vector<float> {
        const auto* e = c.find(layer, role);
        if (!e || (role == Role::LmHead && !e->alias_of.empty())) return {};  // tied classifier
        return c.tensor_f32(*e);
      },
      ck.path.string());
}

}  // namespace ctscope::ctfile
