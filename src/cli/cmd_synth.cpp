// ctscope synth OUT --preset NAME: a deterministic synthetic Llama checkpoint
// (Hugging Face layout, or one GGUF file, quantized if asked) for running and
// timing everything at real shapes.
#include <iostream>
#include <map>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/command.hpp"
#include "synth/synth.hpp"
#include "util/error.hpp"
#include "util/progress.hpp"

namespace ctscope::cli {
namespace {

std::string preset_list() {
  std::string s = "Presets:\n";
  for (const auto& p : synth_presets()) s += fmt::format("  {:<16} {}\n", p.name, p.description);
  return s;
}

struct Opts {
  std::string out, preset, format = "auto", quant;
  DType dtype = DType::BF16;
  uint64_t seed = 0, shard_size = 0;
  int64_t layers = 0;
  bool list = false, quiet = false;
  ProgressMode progress = ProgressMode::Auto;
};

// GGUF: " (Q4_K: 224 tensors, F32: 65)" - the types the tensors were stored as.
std::string stored_types(const SynthResult& r) {
  std::vector<std::string> parts;
  for (const auto& [type, count] : r.types) parts.push_back(fmt::format("{}: {}", type, count));
  return parts.empty() ? "" : fmt::format(" ({} tensors)", fmt::join(parts, ", "));
}

// --format auto: GGUF when OUT ends in .gguf.
SynthFormat synth_format(const Opts& o) {
  if (o.format == "gguf") return SynthFormat::Gguf;
  if (o.format == "safetensors") return SynthFormat::Safetensors;
  return o.out.size() > 5 && o.out.ends_with(".gguf") ? SynthFormat::Gguf : SynthFormat::Safetensors;
}

const std::map<std::string, DType> kQuants{{"f32", DType::F32},   {"f16", DType::F16},   {"bf16", DType::BF16},
                                           {"q8_0", DType::Q8_0}, {"q4_0", DType::Q4_0}, {"q4_k", DType::Q4_K}};

const RegisterCommand reg("synth", "Write a deterministic synthetic Llama checkpoint (HF layout or GGUF) from a preset", 90,
                          [](CLI::App& sub) -> Action {
  auto o = std::make_shared<Opts>();
  add_output_arg(sub, "OUT", o->out,
                 "output directory: new, or an earlier checkpoint directory (or an empty one) to replace; "
                 "with --format gguf the .gguf file to write",
                 OutputKind::Directory);
  std::vector<std::string> presets;
  for (const auto& p : synth_presets()) presets.push_back(p.name);
  sub.add_option("--preset", o->preset, "model shapes (see --list)")->check(CLI::IsMember(presets));
  sub.add_option("--dtype", o->dtype, "bf16 (default), f16 or f32")
      ->transform(names_to(std::map<std::string, DType>{{"bf16", DType::BF16}, {"f16", DType::F16}, {"f32", DType::F32}},
                           "dtype"));
  sub.add_option("--format", o->format,
                 "safetensors (a Hugging Face directory), gguf (one llama.cpp file) or auto (default: gguf when OUT "
                 "ends in .gguf)")
      ->check(CLI::IsMember({"auto", "safetensors", "gguf"}));
  sub.add_option("--quant", o->quant,
                 "GGUF tensor type of the matrices: f32, f16, bf16, q8_0, q4_0 or q4_k (default: --dtype); norm "
                 "gains stay f32, rows that are not whole blocks fall back (q4_k to q4_0, then f16) as in "
                 "llama-quantize")
      ->check(CLI::IsMember([] {
        std::vector<std::string> k;
        for (const auto& q : kQuants) k.push_back(q.first);
        return k;
      }()));
  sub.add_option("--layers", o->layers,
                 "number of transformer blocks (default: the preset's); the same shapes with fewer blocks, e.g. "
                 "--preset llama-7b --layers 2 for a 7B-shaped file that fits anywhere")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  add_seed_option(sub, o->seed, "random seed (same seed, same bytes)");
  sub.add_option("--shard-size", o->shard_size, "write shards of at most this many bytes + model.safetensors.index.json")
      ->check(positive_number());
  sub.add_flag("--list", o->list, "list the presets and exit");
  add_quiet_option(sub, o->quiet);
  add_progress_option(sub, o->progress);
  add_legacy_force_flag(sub);
  sub.footer(preset_list() + examples({"ctscope synth out/small --preset small", "ctscope analyze out/small",
                                       "ctscope synth llama7b-q4k.gguf --preset llama-7b --quant q4_k",
                                       "ctscope inspect llama7b-q4k.gguf"}));
  return [o]() {
    if (o->list) {
      std::cout << preset_list();
      return 0;
    }
    if (o->out.empty()) throw Error("synth: OUT is required (the directory to write)");
    if (o->preset.empty()) throw Error("synth: --preset is required (see ctscope synth --list)");
    SynthOptions so;
    so.preset = o->preset;
    so.format = synth_format(*o);
    so.dtype = o->dtype;
    if (!o->quant.empty()) {
      if (so.format != SynthFormat::Gguf)
        throw Error("--quant: only GGUF files hold quantized tensors (add --format gguf, or name OUT *.gguf)");
      so.dtype = kQuants.at(o->quant);
    }
    if (so.format == SynthFormat::Gguf && o->shard_size) throw Error("--shard-size: a GGUF file is not sharded");
    so.seed = o->seed;
    so.layers = o->layers;
    so.shard_size = o->shard_size;
    so.force = true;  // an existing checkpoint directory is replaced, as every output is
    ProgressBar bar(progress_mode(o->progress, o->quiet));
    so.progress = bar.fn();
    auto r = synth_checkpoint(o->out, so);
    if (!o->quiet)
      fmt::print("wrote {}: {} tensors, {} parameters, {} bytes in {} file{}{}\n", o->out, r.tensors, r.params, r.bytes,
                 r.shards, r.shards == 1 ? "" : "s", stored_types(r));
    return 0;
  };
});

}  // namespace
}  // namespace ctscope::cli
