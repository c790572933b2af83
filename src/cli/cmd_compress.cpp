// ctscope compress / reconstruct: build the CT-compressed model the paper
// describes, and turn it back into a dense checkpoint any tool can load.
#include <fmt/format.h>

#include "cli/command.hpp"
#include "ctfile/ct_reader.hpp"
#include "ctfile/ct_writer.hpp"
#include "ctfile/reconstruct.hpp"
#include "util/atomic_file.hpp"
#include "util/progress.hpp"

namespace ctscope::cli {
namespace {

struct CompressOpts {
  std::string model, out;
  ctfile::CompressSettings s;
  bool quiet = false;
  ProgressMode progress = ProgressMode::Auto;
};

void print_summary(const CompressOpts& o, const ctfile::CompressSummary& sum) {
  fmt::print("wrote {} ({} basis, K={}): {} matrices fitted, pooled R^2 {:.4f}\n", o.out, ct::basis_name(o.s.basis),
             o.s.K, sum.fitted_matrices, sum.pooled_r2());
  fmt::print("parameters: {} in the source, {} stored ({} amplitudes)\n", sum.total_params, sum.stored_params,
             sum.amplitude_params);
  fmt::print("paper-style ratio (total params / amplitudes): {:.1f}x\n",
             sum.amplitude_params ? static_cast<double>(sum.total_params) / static_cast<double>(sum.amplitude_params)
                                  : 0.0);
  fmt::print("real storage ratio (source bytes / file bytes): {:.2f}x  ({:.1f} MB -> {:.1f} MB)\n",
             static_cast<double>(sum.source_bytes) / static_cast<double>(sum.file_bytes),
             static_cast<double>(sum.source_bytes) / 1e6, static_cast<double>(sum.file_bytes) / 1e6);
}

const RegisterCommand compress_cmd(
    "compress",
    "Write the CT-compressed model: per fitted matrix its K amplitudes per row (+ the basis where it is not implied "
    "by K and d), every other tensor verbatim, as a .ct.safetensors file",
    40, [](CLI::App& sub) -> Action {
      auto o = std::make_shared<CompressOpts>();
      add_model_arg(sub, o->model);
      add_output_option(sub, "-o,--output", o->out,
                        "output file, e.g. model.ct.safetensors ('-': stdout, when it is not a terminal)",
                        OutputKind::ModelFile)
          ->required();
      add_k_option(sub, o->s.K, "basis functions per row (one K per file)");
      add_basis_option(sub, "--basis", o->s.basis, "gaussian | dct | random | svd | universal")->default_str("gaussian");
      add_selection_options(sub, o->s.selection, "fit");
      add_seed_option(sub, o->s.seed);
      add_quiet_option(sub, o->quiet);
      add_progress_option(sub, o->progress);
      sub.footer(examples({"ctscope compress model.gguf -o model.ct.safetensors --K 64 --basis dct",
                           "ctscope compress ./TinyLlama --preset paper68 --K 8 -o - | ssh host 'cat > tl.ct'"}));
      return [o]() {
        check_writable(o->out);
        const Checkpoint ck = Checkpoint::open(o->model);
        ProgressBar bar(progress_mode(o->progress, o->quiet));
        const auto sum = ctfile::compress_checkpoint(ck, o->s, o->out, bar.fn());
        if (!o->quiet) print_summary(*o, sum);
        return 0;
      };
    });

struct ReconstructOpts {
  std::string input, out;
  bool quiet = false;
  ProgressMode progress = ProgressMode::Auto;
};

const RegisterCommand reconstruct_cmd(
    "reconstruct",
    "Turn a .ct.safetensors back into a dense Hugging Face checkpoint (config.json + model.safetensors in the source "
    "dtype), loadable by any tool that loads the source model",
    41, [](CLI::App& sub) -> Action {
      auto o = std::make_shared<ReconstructOpts>();
      sub.add_option("CT_FILE", o->input, "a file written by ctscope compress")->required();
      add_output_option(sub, "-o,--output", o->out,
                        "output directory: new, or an earlier checkpoint directory (or an empty one) to replace",
                        OutputKind::Directory)
          ->required();
      add_quiet_option(sub, o->quiet);
      add_progress_option(sub, o->progress);
      add_legacy_force_flag(sub);
      sub.footer(examples({"ctscope reconstruct model.ct.safetensors -o model-ct8/",
                           "ctscope eval model-ct8/ --text wiki.test.raw"}));
      return [o]() {
        const ctfile::CtReader c(Checkpoint::open(o->input));
        ProgressBar bar(progress_mode(o->progress, o->quiet));
        ctfile::reconstruct_checkpoint(c, o->out, /*force=*/true, bar.fn());
        if (!o->quiet)
          fmt::print("wrote {} ({} tensors, {} basis K={})\n", o->out, c.entries().size(), ct::basis_name(c.basis()),
                     c.K());
        return 0;
      };
    });

}  // namespace
}  // namespace ctscope::cli
