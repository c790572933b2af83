// ctscope finetune MODEL --train FILE --valid FILE -o OUT.ct.safetensors: the
// experiment the paper proposes — train the amplitudes (or LoRA factors, or
// every weight) of the CT-compressed model and see how much of the original
// returns, measured with eval's perplexity rule.
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <iostream>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/training_options.hpp"
#include "ctfile/ct_vocab.hpp"
#include "eval/finetune_run.hpp"
#include "report/finetune_report.hpp"
#include "report/html_report.hpp"
#include "report/result_file.hpp"
#include "report/run_metadata.hpp"
#include "train/trainable.hpp"
#include "train/trained_model_file.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/file_fingerprint.hpp"
#include "util/format.hpp"
#include "util/json_text.hpp"
#include "util/progress.hpp"

namespace ctscope::cli {
namespace {

struct Opts {
  std::string model, out, json, html, log, state, resume, trainable = "amplitudes";
  int64_t save_every = 100;
  TrainingOptions t;
  train::StartSettings start;
  bool quiet = false;
  ProgressMode progress = ProgressMode::Auto;
};

// The JSONL log: one line per step, flushed as it is written, so a run that
// is stopped leaves every finished step on disk.
class StepLogFile {
 public:
  explicit StepLogFile(const std::string& path) : path_(path) {
    if (path.empty()) return;
    f_.open(path, std::ios::out | std::ios::trunc);
    if (!f_) fail(path, "cannot be written");
  }
  void write(const nlohmann::json& line) {
    if (!f_.is_open()) return;
    f_ << line.dump() << '\n';
    f_.flush();
    if (!f_) fail(path_, "could not be written (disk full?)");
  }

 private:
  std::string path_;
  std::ofstream f_;
};

// What a training state must match to be resumed by this command: the model's
// files, the tokens trained and validated on, and every setting that changes a
// number (the state's own step says where the run stands).
std::string run_fingerprint(const Opts& o, const FinetuneData& d) {
  const auto bytes_of = [](const std::vector<int32_t>& v) {
    return std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int32_t));
  };
  const uint64_t tokens = fnv1a64(bytes_of(d.valid_tokens), fnv1a64(bytes_of(d.train_tokens)));
  // An input's files by size and hash: a copy of the same bytes (another mtime) is the same input.
  const auto files = [](const std::string& path) {
    if (path.empty()) return nlohmann::json();
    nlohmann::json f = report::input_json(path)["files"];
    for (auto& file : f) file.erase("mtime_utc");
    return f;
  };
  nlohmann::json settings = training_settings_json(o.t, d);
  settings.erase("train");  // a file's name may change; its tokens may not
  settings.erase("valid");
  return nlohmann::json{{"model", files(o.model)},
                        {"tokens_fnv1a64", tokens},
                        {"training", settings},
                        {"trainable", o.start.trainable.name()},
                        {"K", o.start.fit.K},
                        {"basis", ct::basis_name(o.start.fit.basis)},
                        {"basis_seed", o.start.fit.seed},
                        {"init", files(o.start.init)},
                        {"selection", report::selection_json(o.start.fit.selection)}}
      .dump();
}

// Tests stop a run the way a crash does (kill -9) right after a given step:
// CTSCOPE_TEST_KILL_AFTER_STEP=N.
std::optional<int64_t> test_kill_after_step() {
  const char* v = std::getenv("CTSCOPE_TEST_KILL_AFTER_STEP");
  if (!v || !*v) return std::nullopt;
  return std::strtoll(v, nullptr, 10);
}

void print_summary(const Opts& o, const FinetuneResult& r, uint64_t stored) {
  const auto kl = [](const EvalResult& e) {
    return e.kl_mean ? fmt::format("  KL {:.4f}  top-1 {:.3f}", *e.kl_mean, e.top1_agreement.value_or(0)) : std::string();
  };
  fmt::print("wrote {} ({}; {} trainable, {} stored parameters)\n", o.out, o.trainable,
             with_commas(r.trainable_params), with_commas(stored));
  fmt::print("valid perplexity before: {:.4f}{}\n", r.before.ppl, kl(r.before));
  fmt::print("valid perplexity after:  {:.4f}{}\n", r.after.ppl, kl(r.after));
  fmt::print("{} tokens trained in {:.1f} s ({:.0f} tokens/s)\n", with_commas(static_cast<uint64_t>(r.trained_tokens)),
             r.seconds, r.tokens_per_s());
}

nlohmann::json result_json(const Opts& o, const Checkpoint& ck, const FinetuneData& d, const FinetuneResult& r,
                           uint64_t stored) {
  nlohmann::json j = report::finetune_json(r, stored, ck.total_params());
  j["output"] = std::filesystem::absolute(o.out).lexically_normal().string();
  j["teacher"] = o.t.in.teacher.empty() ? nlohmann::json() : nlohmann::json(o.t.in.teacher);
  nlohmann::json settings = training_settings_json(o.t, d);
  settings["trainable"] = o.start.trainable.name();
  settings["K"] = o.start.fit.K;
  settings["basis"] = ct::basis_name(o.start.fit.basis);
  settings["basis_seed"] = o.start.fit.seed;
  settings["init"] = o.start.init.empty() ? nlohmann::json() : nlohmann::json(o.start.init);
  settings["selection_options"] = report::selection_json(o.start.fit.selection);
  report::add_run_record(j, report::model_json(ck),
                         training_inputs_json(o.t.in), settings,
                         report::finetune_units());
  return j;
}

int run(Opts& o) {
  for (const auto* p : {&o.json, &o.html, &o.log, &o.state})
    if (!p->empty()) check_writable(*p);
  std::error_code ec;
  if (!o.start.init.empty() && std::filesystem::equivalent(o.out, o.start.init, ec))
    fail(o.out, "is the --init file: write the trained model to another file");
  if (o.state == "-") throw Error("--state: give a file (a resumed run reads it back), not '-'");
  if (!o.resume.empty() && !std::filesystem::is_regular_file(o.resume))
    fail(o.resume, "no training state to resume from (not a regular file)");
  if (!o.html.empty()) report::require_charting();
  finish_training_options(o.t);
  o.start.trainable = train::Trainable::parse(o.trainable);
  o.start.lora_seed = o.t.s.seed;
  const Checkpoint ck = Checkpoint::open(o.model);
  validate_llama_config(ck.config, o.model);
  if (!o.t.in.tokenizer.empty()) {
    o.start.fit.vocab = ctfile::read_vocab_to_carry(o.t.in.tokenizer, ck.config.vocab_size);
    o.start.fit.vocab_source = o.t.in.tokenizer;
  }
  ProgressBar bar(progress_mode(o.progress, o.quiet));
  const FinetuneData data = load_finetune_data(ck, o.t.in, bar.fn());
  train::ParameterSet<float> params = train::start_parameters(ck, o.start);
  const uint64_t stored = train::stored_params(params, ck, o.start);
  o.t.s.checkpointing = {o.state, o.save_every, run_fingerprint(o, data), {}, o.resume};
  StepLogFile log(o.log);
  const std::optional<int64_t> kill_after = test_kill_after_step();
  const auto on_log = [&](const nlohmann::json& line) {
    log.write(line);
    if (kill_after && line["step"].get<int64_t>() == *kill_after) std::raise(SIGKILL);
  };
  const FinetuneResult r = finetune(params, data, o.t.s, {on_log, bar.fn()});
  train::write_trained_model(params, ck, o.start, o.out);
  if (!o.quiet) print_summary(o, r, stored);
  const nlohmann::json result = result_json(o, ck, data, r, stored);
  write_result_files(o.json, o.html, o.model, result);
  return 0;
}

const RegisterCommand reg(
    "finetune",
    "Train the amplitudes of the CT-compressed model (or LoRA factors, or every weight) on a text, with eval's "
    "perplexity on a validation text before, during and after; write the trained model as a .ct.safetensors",
    45, [](CLI::App& sub) -> Action {
      auto o = std::make_shared<Opts>();
      add_model_arg(sub, o->model);
      add_output_option(sub, "-o,--output", o->out, "the trained model, a .ct.safetensors that eval/generate take",
                        OutputKind::ModelFile)
          ->required();
      sub.add_option("--trainable", o->trainable,
                     "what trains: amplitudes | amplitudes+norms | lora:R (rank R on each fitted matrix) | full "
                     "(every weight, dense); all start from the least-squares compressed model")
          ->capture_default_str();
      add_k_option(sub, o->start.fit.K, "basis functions per row of every fitted matrix");
      add_basis_option(sub, "--basis", o->start.fit.basis, "gaussian | dct | random | svd | universal")
          ->default_str("gaussian");
      add_selection_options(sub, o->start.fit.selection, "fit and train");
      sub.add_option("--basis-seed", o->start.fit.seed, "seed of the random basis")->capture_default_str();
      sub.add_option("--init", o->start.init,
                     "start from this .ct.safetensors (e.g. an earlier finetune) instead of the least-squares fit");
      add_training_options(sub, o->t);
      add_output_option(sub, "--state", o->state,
                        "save the training state (trainable parameters, optimizer moments, step, log) here, "
                        "atomically, every --save-every steps and at the end");
      sub.add_option("--save-every", o->save_every, "steps between two saves of --state")
          ->capture_default_str()
          ->check(CLI::Range(int64_t{1}, int64_t{100000000}));
      sub.add_option("--resume", o->resume,
                     "continue from this training state (the same command, e.g. after a crash or kill -9): the run "
                     "ends with the parameters, file and log an uninterrupted run gives");
      add_output_option(sub, "--log", o->log, "JSONL log: one line per step (loss, lr, grad norm, validation)");
      add_output_option(sub, "--json", o->json, "the result as JSON ('-': stdout)");
      add_output_option(sub, "--html", o->html, "the HTML report of the result (loss and perplexity curves)");
      add_quiet_option(sub, o->quiet);
      add_progress_option(sub, o->progress);
      sub.footer(examples(
          {"ctscope finetune stories260K.bin --tokenizer tok512.bin --train train.txt --valid valid.txt --K 8 "
           "--steps 200 -o s8.ct.safetensors",
           "ctscope finetune model.gguf --teacher model.gguf --train teacher:200000 --valid teacher:20000 "
           "--trainable lora:4 -o l4.ct.safetensors --log l4.jsonl"}));
      return [o]() { return run(*o); };
    });

}  // namespace
}  // namespace ctscope::cli
