// ctscope compress / reconstruct: build the CT-compressed model the paper
// describes, and turn it back into a dense checkpoint any tool can load.
#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "ct/compressed.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"

namespace ctscope::cli {
namespace {

struct CompressOpts {
  std::string model, out, basis = "gaussian";
  ct::CompressSettings s;  // K, selection and seed bound here; the basis is parsed after
  bool quiet = false;
};

const RegisterCommand compress_cmd(
    "compress",
    "Write the CT-compressed model: per fitted matrix its K amplitudes per row (+ the basis where it is not implied "
    "by K and d), every other tensor verbatim, as a .ct.safetensors file",
    40, [](CLI::App& sub) -> Action {
      auto o = std::make_shared<CompressOpts>();
      add_model_arg(sub, o->model);
      sub.add_option("-o,--output", o->out, "output file, e.g. model.ct.safetensors")->required();
      sub.add_option("--K", o->s.K, "basis functions per row")->capture_default_str()->check(CLI::PositiveNumber);
      sub.add_option("--basis", o->basis, "gaussian | dct | random | svd | universal")->capture_default_str();
      add_selection_options(sub, o->s.selection, "fit");
      sub.add_option("--seed", o->s.selection.seed, "seed of the random basis")->capture_default_str();
      sub.add_flag("-q,--quiet", o->quiet, "print nothing");
      return [o]() {
        ct::CompressSettings s = o->s;
        const auto bases = parse_basis_list(o->basis, "--basis");
        if (bases.size() != 1) throw Error("--basis: compress takes exactly one basis");
        s.basis = bases.front();
        check_writable(o->out);
        Checkpoint ck = Checkpoint::open(o->model);
        const bool tty = !o->quiet && ::isatty(STDERR_FILENO);
        auto sum = ct::compress_checkpoint(ck, s, o->out, [&](size_t done, size_t total, const std::string& name, double) {
          if (tty) std::fprintf(stderr, "\r\033[K[%zu/%zu] %s%s", done, total, name.c_str(), done == total ? "\n" : "");
        });
        if (!o->quiet) {
          fmt::print("wrote {} ({} basis, K={}): {} matrices fitted, pooled R^2 {:.4f}\n", o->out, o->basis, s.K,
                     sum.fitted_matrices, sum.pooled_r2());
          fmt::print("parameters: {} in the source, {} stored ({} amplitudes)\n", sum.total_params, sum.stored_params,
                     sum.amplitude_params);
          fmt::print("paper-style ratio (total params / amplitudes): {:.1f}x\n",
                     sum.amplitude_params ? static_cast<double>(sum.total_params) / static_cast<double>(sum.amplitude_params) : 0.0);
          fmt::print("real storage ratio (source bytes / file bytes): {:.2f}x  ({:.1f} MB -> {:.1f} MB)\n",
                     static_cast<double>(sum.source_bytes) / static_cast<double>(sum.file_bytes),
                     static_cast<double>(sum.source_bytes) / 1e6, static_cast<double>(sum.file_bytes) / 1e6);
        }
        return 0;
      };
    });

struct ReconstructOpts {
  std::string input, out;
  bool force = false;
};

const RegisterCommand reconstruct_cmd(
    "reconstruct",
    "Turn a .ct.safetensors back into a dense Hugging Face checkpoint (config.json + model.safetensors in the source "
    "dtype), loadable by any tool that loads the source model",
    41, [](CLI::App& sub) -> Action {
      auto o = std::make_shared<ReconstructOpts>();
      sub.add_option("CT_FILE", o->input, "a file written by ctscope compress")->required();
      sub.add_option("-o,--output", o->out, "output directory")->required();
      sub.add_flag("--force", o->force, "replace the output directory if it exists");
      return [o]() {
        ct::CompressedCheckpoint c(Checkpoint::open(o->input));
        ct::reconstruct_checkpoint(c, o->out, o->force);
        fmt::print("wrote {} ({} tensors, {} basis K={})\n", o->out, c.entries().size(), ct::basis_name(c.basis()), c.K());
        return 0;
      };
    });

}  // namespace
}  // namespace ctscope::cli
