// ctscope eval MODEL: perplexity on a text by llama.cpp's rule, optionally with the
// KL divergence and top-1 agreement against a reference model.
#include <cstdio>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "eval/model_perplexity.hpp"
#include "report/run_metadata.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/format.hpp"
#include "util/progress.hpp"
#include "util/json_text.hpp"

namespace ctscope::cli {
namespace {

struct Opts {
  std::string model, text, text_ids, tokenizer, ref, json;
  int64_t ctx = 512;
  bool quiet = false;
  ProgressMode progress = ProgressMode::Auto;
};

int run_eval(const Opts& o) {
  if (!o.json.empty()) check_writable(o.json);  // before the long run
  ProgressBar bar(progress_mode(o.progress, o.quiet));
  const PerplexityRun run = model_perplexity({o.model, o.ref, o.text, o.text_ids, o.tokenizer, o.ctx}, bar.fn());
  const EvalResult& r = run.result.candidates.at(0);
  const PerplexityFloors& f = run.result.floors;
  nlohmann::json j = run.to_json();
  report::add_run_record(j, report::input_json(o.model), report::eval_inputs_json(o.text, o.text_ids, o.tokenizer, o.ref),
                         {{"ctx", o.ctx}}, report::perplexity_units());
  if (!o.json.empty()) write_file_atomic(o.json, json_text(j, 2) + "\n");
  if (o.quiet) return 0;
  std::printf("ppl = %.4f +/- %.5f (%s, %s of %ld)\n", r.ppl, r.ppl_stderr,
              plural(r.scored_tokens, "scored token").c_str(), plural(r.chunks, "chunk").c_str(),
              static_cast<long>(r.ctx));
  const std::string verdict = floor_verdict(r.ppl, f);
  std::printf("floors: uniform guess %.0f (the vocabulary), unigram frequencies of the scored tokens %.4f%s\n",
              f.uniform_ppl, f.unigram.ppl, verdict.empty() ? "" : ("; the model is " + verdict).c_str());
  if (run.result.reference)
    std::printf("reference ppl = %.4f +/- %.5f; KL(ref || model) mean %.6f, p99 %.6f; top-1 agreement %.4f\n",
                run.result.reference->ppl, run.result.reference->ppl_stderr, *r.kl_mean, *r.kl_p99, *r.top1_agreement);
  // With the numbers they qualify (stdout), so that a saved report keeps them.
  for (const auto& n : run.notes) std::printf("%s\n", n.c_str());
  return 0;
}

const RegisterCommand reg(
    "eval", "Perplexity of a model on a text (llama.cpp's rule); with --ref, KL and top-1 agreement", 70,
    [](CLI::App& sub) -> Action {
      auto o = std::make_shared<Opts>();
      add_model_arg(sub, o->model);
      add_text_options(sub, o->text, o->text_ids, o->tokenizer);
      add_ctx_option(sub, o->ctx);
      sub.add_option("--ref", o->ref, "reference model (same vocabulary): report KL(ref || model) and top-1 agreement");
      add_output_option(sub, "--json", o->json,
                        "write {ppl, ppl_stderr, scored_tokens, chunks, ctx, floors: {uniform_ppl, unigram_ppl}, "
                     "model_context, text_tokens, notes[, kl_mean, kl_p99, top1_agreement, reference]} to FILE ('-': stdout)");
      add_quiet_option(sub, o->quiet);
      add_progress_option(sub, o->progress);
      sub.footer(examples({"ctscope eval stories260K.bin --tokenizer tok512.bin --text tinystories.txt --ctx 256",
                           "ctscope eval model.ct.safetensors --ref model.gguf --text wiki.test.raw --json -"}));
      return [o]() { return run_eval(*o); };
    });

}  // namespace
}  // namespace ctscope::cli
