#include "ctfile/reconstruct.hpp"

#include "ctfile/ct_format.hpp"
#include "ctfile/tokenizer_model_file.hpp"
#include "io/safetensors_writer.hpp"
#include "model/rope_permute.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"

namespace ctscope::ctfile {

ReconstructSummary reconstruct_checkpoint(const CtReader& c, const std::filesystem::path& out_dir, bool force,
                                          const ProgressFn& progress) {
  check_output_dir(out_dir, force);
  check_not_an_input(out_dir, {c.file().path});
  AtomicDir dir(out_dir);

  const bool from_hf = c.source_format() == "safetensors";
  const auto& cfg = c.config();
  auto out_dtype = [](DType t) { return t == DType::BF16 || t == DType::F16 || t == DType::F32 ? t : DType::F32; };
  auto out_name = [&](const CtReader::Entry& e) {
    if (from_hf || e.role == Role::Other) return e.name;
    return hf_tensor_name(e.layer, e.role);
  };
  std::vector<SafetensorsEntry> plan;
  for (const auto& e : c.entries())
    if (e.alias_of.empty()) plan.push_back({out_name(e), out_dtype(e.dtype), e.shape});
  // "format": "pt" is what transformers expects in a PyTorch checkpoint's metadata.
  SafetensorsWriter w(dir.tmp() / "model.safetensors", plan, {{"format", "pt"}});
  size_t written = 0;
  for (const auto& e : c.entries()) {
    if (!e.alias_of.empty()) continue;
    auto f = c.tensor_f32(e);
    const DType dt = out_dtype(e.dtype);
    std::vector<uint8_t> bytes(f.size() * (dt == DType::F32 ? 4 : 2));
    convert_from_f32(dt, f.data(), f.size(), bytes.data());
    // Meta-layout q/k rows (GGUF, llama2.c) to the Hugging Face permuted layout.
    if (cfg.rope == RopeLayout::Interleaved && (e.role == Role::QProj || e.role == Role::KProj)) {
      const int64_t heads = e.role == Role::QProj ? cfg.n_heads : cfg.n_kv_heads;
      bytes = permute_meta_to_hf(bytes.data(), heads, cfg.head_dim(), e.shape[1], dt == DType::F32 ? 4 : 2);
    }
    w.write(out_name(e), bytes.data(), bytes.size());
    if (progress) progress(++written, plan.size(), e.name, static_cast<double>(w.bytes_written()));
  }
  w.commit();
  ModelConfig hf = cfg;
  hf.rope = RopeLayout::HalfSplit;
  auto j = to_hf_config(hf, torch_dtype(plan.empty() ? DType::F32 : plan.front().dtype));
  j.erase(kRopeLayoutKey);
  write_file_atomic(dir.tmp() / "config.json", j.dump(2) + "\n");
  ReconstructSummary sum;
  if (const auto& v = c.vocabulary()) {
    try {
      write_file_atomic(dir.tmp() / "tokenizer.model",
                        sentencepiece_model_bytes(*v, cfg.bos_id, cfg.eos_id, c.file().path.string()));
      sum.tokenizer = true;
    } catch (const Error& e) {
      sum.tokenizer_note = e.what();  // the weights are still worth having
    }
  }
  dir.commit();
  return sum;
}

}  // namespace ctscope::ctfile
