// ctscope synth OUT --preset NAME: a deterministic synthetic Llama checkpoint
// (Hugging Face layout) for running and timing everything at real shapes.
#include <iostream>
#include <map>

#include <fmt/format.h>

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
  std::string out, preset;
  DType dtype = DType::BF16;
  uint64_t seed = 0, shard_size = 0;
  bool list = false, quiet = false;
  ProgressMode progress = ProgressMode::Auto;
};

const RegisterCommand reg("synth", "Write a deterministic synthetic Llama checkpoint (HF layout) from a preset", 90,
                          [](CLI::App& sub) -> Action {
  auto o = std::make_shared<Opts>();
  add_output_arg(sub, "OUT", o->out,
                 "output directory: new, or an earlier checkpoint directory (or an empty one) to replace",
                 OutputKind::Directory);
  std::vector<std::string> presets;
  for (const auto& p : synth_presets()) presets.push_back(p.name);
  sub.add_option("--preset", o->preset, "model shapes (see --list)")->check(CLI::IsMember(presets));
  sub.add_option("--dtype", o->dtype, "bf16 (default), f16 or f32")
      ->transform(names_to(std::map<std::string, DType>{{"bf16", DType::BF16}, {"f16", DType::F16}, {"f32", DType::F32}},
                           "dtype"));
  add_seed_option(sub, o->seed, "random seed (same seed, same bytes)");
  sub.add_option("--shard-size", o->shard_size, "write shards of at most this many bytes + model.safetensors.index.json")
      ->check(CLI::PositiveNumber);
  sub.add_flag("--list", o->list, "list the presets and exit");
  add_quiet_option(sub, o->quiet);
  add_progress_option(sub, o->progress);
  add_legacy_force_flag(sub);
  sub.footer(preset_list() + examples({"ctscope synth out/small --preset small", "ctscope analyze out/small"}));
  return [o]() {
    if (o->list) {
      std::cout << preset_list();
      return 0;
    }
    if (o->out.empty()) throw Error("synth: OUT is required (the directory to write)");
    if (o->preset.empty()) throw Error("synth: --preset is required (see ctscope synth --list)");
    SynthOptions so;
    so.preset = o->preset;
    so.dtype = o->dtype;
    so.seed = o->seed;
    so.shard_size = o->shard_size;
    so.force = true;  // an existing checkpoint directory is replaced, as every output is
    ProgressBar bar(progress_mode(o->progress, o->quiet));
    so.progress = bar.fn();
    auto r = synth_checkpoint(o->out, so);
    if (!o->quiet)
      fmt::print("wrote {}: {} tensors, {} parameters, {} bytes in {} file{}\n", o->out, r.tensors, r.params, r.bytes,
                 r.shards, r.shards == 1 ? "" : "s");
    return 0;
  };
});

}  // namespace
}  // namespace ctscope::cli
