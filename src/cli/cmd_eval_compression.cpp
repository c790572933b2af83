// ctscope eval-compression MODEL --text FILE --K 8,64: the table the paper never
// showed - what each compression costs in perplexity and in agreement with the
// original model, beside fair alternatives at the same parameter budget.
#include <cstdio>
#include <iostream>

#include "cli/command.hpp"
#include "eval/compression_comparison.hpp"
#include "eval/perplexity.hpp"
#include "report/compression_report.hpp"
#include "text/eval_tokens.hpp"
#include "util/atomic_file.hpp"
#include "util/progress.hpp"
#include "util/json_text.hpp"

namespace ctscope::cli {
namespace {

struct Opts {
  std::string model, text, text_ids, tokenizer, json;
  std::vector<int> Ks{8, 64};
  std::vector<ct::BasisKind> bases{ct::BasisKind::Gaussian, ct::BasisKind::Dct, ct::BasisKind::Svd,
                                   ct::BasisKind::Universal};
  ct::TensorSelection selection;
  uint64_t seed = 0x5eed;
  int64_t ctx = 512, max_chunks = 0;
  double max_memory_gb = 8;
  bool quiet = false;
  ProgressMode progress = ProgressMode::Auto;
};

// The original first (the reference), then int8, then every (K, basis).
std::vector<Variant> variants_to_run(const Opts& o) {
  std::vector<Variant> v = {{Variant::Kind::Original, {}, 0}, {Variant::Kind::Int8RowAbsmax, {}, 0}};
  for (int K : sorted_unique(o.Ks))
    for (auto b : o.bases) v.push_back({Variant::Kind::Ct, b, K});
  return v;
}

int run(const Opts& o) {
  if (!o.json.empty()) check_writable(o.json);
  const Checkpoint ck = Checkpoint::open(o.model);
  validate_llama_config(ck.config, o.model);
  auto [tokens, where] = load_eval_tokens(ck, o.text, o.text_ids, o.tokenizer);
  const ChunkPlan plan = plan_chunks(static_cast<int64_t>(tokens.size()), o.ctx, where);
  if (o.max_chunks > 0 && plan.n_chunks > o.max_chunks) tokens.resize(static_cast<size_t>(o.max_chunks * o.ctx));

  VariantBuilder builder(ck, o.selection, *std::max_element(o.Ks.begin(), o.Ks.end()), o.seed);
  if (!o.quiet)
    std::fprintf(stderr, "selection: %s (%zu matrices); %zu tokens in %ld chunks of %ld\n",
                 builder.selection().description.c_str(), builder.selection().matrices.size(), tokens.size(),
                 static_cast<long>(tokens.size() / static_cast<size_t>(o.ctx)), static_cast<long>(o.ctx));

  ProgressBar bar(progress_mode(o.progress, o.quiet));
  const CompressionComparison cmp =
      compare_variants(ck, builder, variants_to_run(o), tokens, where, {o.ctx, o.max_memory_gb}, bar.fn());
  if (!o.quiet) std::cout << report::compression_text(cmp);
  if (!o.json.empty()) write_file_atomic(o.json, json_text(report::compression_json(cmp), 2) + "\n");
  return 0;
}

const RegisterCommand reg(
    "eval-compression",
    "Perplexity, KL and top-1 agreement of the CT-compressed model at each K and basis, beside the original and an "
    "8-bit per-row quantization",
    75, [](CLI::App& sub) -> Action {
      auto o = std::make_shared<Opts>();
      add_model_arg(sub, o->model);
      add_text_options(sub, o->text, o->text_ids, o->tokenizer);
      add_k_list_option(sub, o->Ks, "comma-separated K values");
      add_basis_list_option(sub, "--basis", o->bases,
                            "comma-separated bases to compare: gaussian, dct, random, svd, universal")
          ->default_str("gaussian,dct,svd,universal");
      add_basis_list_option(sub, "--bases", o->bases, "")->group("");  // the name before 0.2, hidden
      add_selection_options(sub, o->selection, "fit");
      add_seed_option(sub, o->seed);
      add_ctx_option(sub, o->ctx);
      sub.add_option("--max-chunks", o->max_chunks, "score at most this many chunks (0 = all)")->capture_default_str();
      sub.add_option("--max-memory-gb", o->max_memory_gb, "memory budget for candidate models evaluated together")
          ->capture_default_str();
      add_output_option(sub, "--json", o->json, "write the table as JSON to FILE ('-': stdout)");
      add_quiet_option(sub, o->quiet);
      add_progress_option(sub, o->progress);
      sub.footer(examples({"ctscope eval-compression stories260K.bin --tokenizer tok512.bin --text tinystories.txt "
                           "--K 8,64 --basis gaussian,svd",
                           "ctscope eval-compression model.gguf --text wiki.test.raw --max-chunks 20 --json c.json"}));
      return [o]() { return run(*o); };
    });

}  // namespace
}  // namespace ctscope::cli
