// ctscope eval-compression MODEL --text FILE --K 8,64: the table the paper never
// showed - what each compression costs in perplexity and in agreement with the
// original model, beside fair alternatives at the same parameter budget.
#include <cstdio>
#include <iostream>

#include "cli/command.hpp"
#include "ct/tensor_selection.hpp"
#include "ctfile/ct_reader.hpp"
#include "eval/compression_comparison.hpp"
#include "eval/perplexity.hpp"
#include "report/compression_report.hpp"
#include "report/html_report.hpp"
#include "report/run_metadata.hpp"
#include "runtime/llama_model.hpp"
#include "text/eval_tokens.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/format.hpp"
#include "util/progress.hpp"
#include "util/json_text.hpp"

namespace ctscope::cli {
namespace {

struct Opts {
  std::string model, text, text_ids, tokenizer, json, html;
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

// The original first (the reference), then int8, then every (K, basis) for
// each K that fits at least one selected matrix; the others go to *unrun.
std::vector<Variant> variants_to_run(const Opts& o, const VariantBuilder& builder, std::vector<int>* unrun) {
  std::vector<Variant> v = {{Variant::Kind::Original, {}, 0}, {Variant::Kind::Int8RowAbsmax, {}, 0}};
  for (int K : sorted_unique(o.Ks)) {
    if (builder.coverage(K).matrices == 0) {
      unrun->push_back(K);
      continue;
    }
    for (auto b : o.bases) v.push_back({Variant::Kind::Ct, b, K});
  }
  return v;
}

// The table as JSON, with the run's record: tool, model and text fingerprints, every setting.
nlohmann::json result_json(const Opts& o, const Checkpoint& ck, const CompressionComparison& cmp) {
  nlohmann::json j = report::compression_json(cmp);
  std::vector<std::string> bases;
  for (auto b : o.bases) bases.emplace_back(ct::basis_name(b));
  const nlohmann::json settings = {{"K", sorted_unique(o.Ks)},      {"bases", bases},
                                   {"seed", o.seed},                {"ctx", o.ctx},
                                   {"max_chunks", o.max_chunks},    {"max_memory_gb", o.max_memory_gb},
                                   {"selection", cmp.selection},    {"selection_options", report::selection_json(o.selection)}};
  report::add_run_record(j, report::model_json(ck), report::eval_inputs_json(o.text, o.text_ids, o.tokenizer, ""),
                         settings, report::compression_units());
  return j;
}

int run(const Opts& o) {
  if (!o.json.empty()) check_writable(o.json);
  if (!o.html.empty()) {
    check_writable(o.html);
    report::require_charting();
  }
  const Checkpoint ck = Checkpoint::open(o.model);
  ctfile::require_dense(ck, "eval-compression",
                        "run it on the source model, or measure this file with `ctscope eval " + o.model +
                            " --text FILE --ref SOURCE`");
  validate_llama_config(ck.config, o.model);
  auto [tokens, where] = load_eval_tokens(ck, o.text, o.text_ids, o.tokenizer);
  const ChunkPlan plan = plan_chunks(static_cast<int64_t>(tokens.size()), o.ctx, where);
  const auto notes = evaluation_notes(static_cast<int64_t>(tokens.size()), o.ctx, LlamaModel::context_of(ck.config));
  if (o.max_chunks > 0 && plan.n_chunks > o.max_chunks) tokens.resize(static_cast<size_t>(o.max_chunks * o.ctx));

  VariantBuilder builder(ck, o.selection, o.seed);
  ct::require_fittable(builder.selection(), o.Ks, o.model);
  std::vector<int> unrun;
  const auto variants = variants_to_run(o, builder, &unrun);
  if (!o.quiet)
    std::fprintf(stderr, "selection: %s (%s); %s in %s of %ld\n", builder.selection().description.c_str(),
               plural(static_cast<int64_t>(builder.matrices()), "matrix", "matrices").c_str(),
               plural(static_cast<int64_t>(tokens.size()), "token").c_str(),
               plural(static_cast<int64_t>(tokens.size()) / o.ctx, "chunk").c_str(), static_cast<long>(o.ctx));
  for (int K : unrun)
    std::fprintf(stderr, "K=%d: no selected matrix has rows of d >= %d (the longest have d = %ld): no variant at this K\n",
                 K, K, static_cast<long>(builder.selection().longest_row));

  ProgressBar bar(progress_mode(o.progress, o.quiet));
  CompressionComparison cmp = compare_variants(ck, builder, variants, tokens, where, {o.ctx, o.max_memory_gb}, bar.fn());
  cmp.unrun_K = unrun;
  cmp.notes = notes;
  if (!o.quiet) std::cout << report::compression_text(cmp);
  const nlohmann::json result = result_json(o, ck, cmp);
  write_result_files(o.json, o.html, o.model, result);
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
      add_k_list_option(sub, o->Ks,
                        "comma-separated K values; a matrix with rows shorter than K stays dense at that K only "
                        "(listed), and a K that fits no matrix runs no variant (an error if no K fits any)");
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
      add_output_option(sub, "--html", o->html,
                        "write the HTML report (Pareto plot, tables; `ctscope report` of the --json result) to FILE");
      add_quiet_option(sub, o->quiet);
      add_progress_option(sub, o->progress);
      sub.footer(examples({"ctscope eval-compression stories260K.bin --tokenizer tok512.bin --text tinystories.txt "
                           "--K 8,64 --basis gaussian,svd",
                           "ctscope eval-compression model.gguf --text wiki.test.raw --max-chunks 20 --json c.json"}));
      return [o]() { return run(*o); };
    });

}  // namespace
}  // namespace ctscope::cli
