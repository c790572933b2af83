// ctscope compress / reconstruct: build the CT-compressed model the paper
// describes, and turn it back into a dense checkpoint any tool can load.
#include <algorithm>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "ctfile/ct_reader.hpp"
#include "ctfile/ct_writer.hpp"
#include "ctfile/reconstruct.hpp"
#include "ctfile/ct_vocab.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/format.hpp"
#include "util/progress.hpp"

namespace ctscope::cli {
namespace {

struct CompressOpts {
  std::string model, out, tokenizer;
  ctfile::CompressSettings s;
  bool quiet = false;
  ProgressMode progress = ProgressMode::Auto;
};

void print_summary(const CompressOpts& o, const ctfile::CompressSummary& sum) {
  fmt::print("wrote {} ({} basis, K={}): {} fitted ({} rows, {} parameters), pooled R^2 {:.4f}\n", o.out,
             ct::basis_name(o.s.basis), o.s.K, plural(static_cast<int64_t>(sum.fitted_matrices), "matrix", "matrices"),
             with_commas(sum.fitted_rows), with_commas(sum.fitted_params), sum.pooled_r2());
  // Spec "Coverage": what stays dense at this K, and why, grouped by reason.
  std::vector<std::pair<std::string, std::vector<std::string>>> by_reason;
  for (const auto& skipped : sum.skipped) {
    const std::string& why = skipped.second;
    auto it = std::find_if(by_reason.begin(), by_reason.end(), [&](const auto& g) { return g.first == why; });
    if (it == by_reason.end()) it = by_reason.insert(by_reason.end(), {why, {}});
    it->second.push_back(skipped.first);
  }
  for (const auto& g : by_reason) {
    std::string names;
    for (size_t i = 0; i < g.second.size() && i < 4; ++i) names += std::string(i ? ", " : "") + g.second[i];
    if (g.second.size() > 4) names += fmt::format(" and {} more", g.second.size() - 4);
    fmt::print("  not fitted, stored as in the source: {} ({}): {}\n",
               plural(static_cast<int64_t>(g.second.size()), "tensor"), g.first, names);
  }
  fmt::print("parameters: {} in the source, {} stored ({} amplitudes)\n", sum.total_params, sum.stored_params,
             sum.amplitude_params);
  fmt::print("paper-style ratio (total params / amplitudes): {:.1f}x\n",
             static_cast<double>(sum.total_params) / static_cast<double>(sum.amplitude_params));
  fmt::print("real storage ratio (source bytes / file bytes): {:.2f}x  ({:.1f} MB -> {:.1f} MB)\n",
             static_cast<double>(sum.source_bytes) / static_cast<double>(sum.file_bytes),
             static_cast<double>(sum.source_bytes) / 1e6, static_cast<double>(sum.file_bytes) / 1e6);
  if (sum.vocab_tokens)
    fmt::print("vocabulary carried: {} tokens ({})\n", sum.vocab_tokens,
               o.tokenizer.empty() ? "the model's own" : o.tokenizer);
  else
    fmt::print("no vocabulary carried: generate/eval on the file will need --tokenizer\n");
}

const RegisterCommand compress_cmd(
    "compress",
    "Write the CT-compressed model: per fitted matrix its K amplitudes per row (+ the basis where it is not implied "
    "by K and d), every other tensor verbatim, and the vocabulary (a GGUF's own, or --tokenizer), as a "
    ".ct.safetensors file that generate/eval/inspect take as a model.\n"
    "  e.g. ctscope compress stories260K.bin --tokenizer tok512.bin --K 8 -o m.ct.safetensors",
    40, [](CLI::App& sub) -> Action {
      auto o = std::make_shared<CompressOpts>();
      add_model_arg(sub, o->model);
      add_output_option(sub, "-o,--output", o->out,
                        "output file, e.g. model.ct.safetensors ('-': stdout, when it is not a terminal)",
                        OutputKind::ModelFile)
          ->required();
      add_k_option(sub, o->s.K,
                   "basis functions per row (one K per file); a selected matrix with rows shorter than K is stored "
                   "dense (listed), and an error says so when none is long enough");
      add_basis_option(sub, "--basis", o->s.basis, "gaussian | dct | random | svd | universal")->default_str("gaussian");
      add_selection_options(sub, o->s.selection, "fit");
      add_seed_option(sub, o->s.seed);
      sub.add_option("--tokenizer", o->tokenizer,
                     "llama2.c tokenizer.bin to carry in the file (default: a GGUF's own vocabulary; a Hugging Face "
                     "directory's tokenizer is not carried)");
      add_quiet_option(sub, o->quiet);
      add_progress_option(sub, o->progress);
      sub.footer(examples({"ctscope compress model.gguf -o model.ct.safetensors --K 64 --basis dct",
                           "ctscope compress ./TinyLlama --preset paper68 --K 8 -o - | ssh host 'cat > tl.ct'"}));
      return [o]() {
        check_writable(o->out);
        const Checkpoint ck = Checkpoint::open(o->model);
        if (!o->tokenizer.empty()) {
          o->s.vocab = ctfile::read_vocab_to_carry(o->tokenizer, ck.config.vocab_size);
          o->s.vocab_source = o->tokenizer;
        }
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
    "dtype, + tokenizer.model from the vocabulary the file carries), loadable by any tool that loads the source "
    "model; generate/eval find its tokenizer by themselves.\n"
    "  e.g. ctscope reconstruct m.ct.safetensors -o m-dense && ctscope generate m-dense --prompt \"Once\"",
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
        const auto sum = ctfile::reconstruct_checkpoint(c, o->out, /*force=*/true, bar.fn());
        if (o->quiet) return 0;
        fmt::print("wrote {} ({} tensors, {} basis K={})\n", o->out, c.entries().size(), ct::basis_name(c.basis()),
                   c.K());
        if (sum.tokenizer)
          fmt::print("tokenizer.model: {} tokens ({})\n", c.vocabulary()->tokens.size(), c.vocabulary()->model);
        else if (!sum.tokenizer_note.empty())
          fmt::print("no tokenizer.model written ({}): pass --tokenizer to generate/eval\n", sum.tokenizer_note);
        else
          fmt::print("no tokenizer carried in {}: pass --tokenizer to generate/eval\n", o->input);
        return 0;
      };
    });

}  // namespace
}  // namespace ctscope::cli
