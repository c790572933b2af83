// ctscope finetune-compare MODEL --train FILE --valid FILE --K 8,16,32: the
// table that answers the paper's proposal — how much of the original model
// amplitude-only training brings back, beside LoRA with as many trainable
// parameters, full fine-tuning of the same compressed model, int8 and the
// original, all trained and validated the same way.
#include <cstdio>
#include <iostream>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/training_options.hpp"
#include "eval/finetune_comparison.hpp"
#include "report/finetune_report.hpp"
#include "report/html_report.hpp"
#include "report/result_file.hpp"
#include "report/run_metadata.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/json_text.hpp"
#include "util/progress.hpp"

namespace ctscope::cli {
namespace {

struct Opts {
  std::string model, json, html;
  TrainingOptions t;
  FinetuneCompareSettings s;
  bool no_lora = false, no_full = false, quiet = false;
  ProgressMode progress = ProgressMode::Auto;
};

nlohmann::json result_json(const Opts& o, const Checkpoint& ck, const FinetuneData& d, const FinetuneComparison& c) {
  nlohmann::json j = report::finetune_compare_json(c);
  j["teacher"] = o.t.in.teacher.empty() ? nlohmann::json() : nlohmann::json(o.t.in.teacher);
  j["train"] = o.t.in.train;
  j["valid"] = o.t.in.valid;
  nlohmann::json settings = training_settings_json(o.t, d);
  std::vector<std::string> bases;
  for (auto b : o.s.bases) bases.emplace_back(ct::basis_name(b));
  settings["K"] = o.s.Ks;
  settings["bases"] = bases;
  settings["basis_seed"] = o.s.basis_seed;
  settings["lora"] = o.s.lora;
  settings["full"] = o.s.full;
  settings["selection_options"] = report::selection_json(o.s.selection);
  report::add_run_record(j, report::model_json(ck),
                         training_inputs_json(o.t.in), settings,
                         report::finetune_units());
  return j;
}

int run(Opts& o) {
  for (const auto* p : {&o.json, &o.html})
    if (!p->empty()) check_writable(*p);
  if (!o.html.empty()) report::require_charting();
  // KL and top-1 are against the original unless --ref says otherwise.
  if (o.t.in.reference.empty()) o.t.in.reference = o.model;
  finish_training_options(o.t);
  o.s.train = o.t.s;
  o.s.lora = !o.no_lora;
  o.s.full = !o.no_full;
  o.s.Ks = sorted_unique(o.s.Ks);
  const Checkpoint ck = Checkpoint::open(o.model);
  validate_llama_config(ck.config, o.model);
  ct::require_fittable(ct::select_tensors(ck, o.s.selection, o.s.Ks.front()), o.s.Ks, o.model);
  ProgressBar bar(progress_mode(o.progress, o.quiet));
  const FinetuneData data = load_finetune_data(ck, o.t.in, bar.fn());
  FinetuneCompareCallbacks cb;
  cb.on_row = [&](size_t row, size_t rows, const std::string& variant) {
    if (!o.quiet) std::fprintf(stderr, "[%zu/%zu] %s\n", row + 1, rows, variant.c_str());
  };
  cb.step_progress = bar.fn();
  const FinetuneComparison c = compare_finetuning(ck, data, o.s, cb);
  if (!o.quiet) std::cout << report::finetune_compare_text(c);
  const nlohmann::json result = result_json(o, ck, data, c);
  write_result_files(o.json, o.html, o.model, result);
  return 0;
}

const RegisterCommand reg(
    "finetune-compare",
    "Train the CT amplitudes at each K and basis, LoRA with as many trainable parameters, and every weight of the "
    "same compressed model, on the same data; the table of validation perplexity before and after, KL and top-1 "
    "against the original, beside int8 and the original",
    46, [](CLI::App& sub) -> Action {
      auto o = std::make_shared<Opts>();
      add_model_arg(sub, o->model);
      add_k_list_option(sub, o->s.Ks, "comma-separated K values, each its own rows")->default_str("8");
      add_basis_list_option(sub, "--basis", o->s.bases,
                            "comma-separated bases whose amplitudes are trained (LoRA and full start from the first)")
          ->default_str("gaussian");
      add_selection_options(sub, o->s.selection, "fit and train");
      sub.add_option("--basis-seed", o->s.basis_seed, "seed of the random basis")->capture_default_str();
      add_training_options(sub, o->t);
      sub.add_flag("--no-lora", o->no_lora, "leave out the LoRA rows");
      sub.add_flag("--no-full", o->no_full, "leave out the full fine-tuning rows");
      add_output_option(sub, "--json", o->json, "the table as JSON ('-': stdout)");
      add_output_option(sub, "--html", o->html, "the HTML report of the result");
      add_quiet_option(sub, o->quiet);
      add_progress_option(sub, o->progress);
      sub.footer(examples({"ctscope finetune-compare stories260K.bin --tokenizer tok512.bin --teacher stories260K.bin "
                           "--train teacher:100000 --valid teacher:20000 --K 8,16,32 --steps 300 --json ftc.json"}));
      return [o]() { return run(*o); };
    });

}  // namespace
}  // namespace ctscope::cli
