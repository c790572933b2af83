// ctscope generate MODEL: run a model on a prompt and stream its continuation.
#include <cstdio>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "eval/generation_run.hpp"
#include "text/token_ids.hpp"
#include "util/format.hpp"
#include "util/resource_usage.hpp"

namespace ctscope::cli {
namespace {

struct Opts {
  std::string model, tokenizer, prompt, prompt_ids;
  bool has_prompt = false, ids = false, quiet = false;
  int64_t n_new = 256;
  float temperature = 0.0f, top_p = 0.9f;
  uint64_t seed = 0;
};

int run_generate(const Opts& o) {
  GenerationRequest request;
  request.model = o.model;
  request.tokenizer = o.tokenizer;
  request.prompt = o.prompt;
  if (!o.prompt_ids.empty()) {
    request.prompt_ids = read_token_ids(o.prompt_ids);
    request.prompt_ids_source = o.prompt_ids;
  }
  request.text_out = !o.ids;
  request.n_new = o.n_new;
  request.temperature = o.temperature;
  request.top_p = o.top_p;
  request.seed = o.seed;
  GenerationRun run = prepare_generation(request);
  const auto& ids = run.ids;
  auto emit = [&](size_t i) {
    if (o.ids) std::fputs(fmt::format("{}{}", i ? " " : "", ids[i]).c_str(), stdout);
    else if (i > 0) std::fputs(run.tokenizer->decode(ids[i - 1], ids[i]).c_str(), stdout);
    std::fflush(stdout);
  };
  for (size_t i = 0; i < ids.size(); ++i) emit(i);
  const Stopwatch clock;
  const size_t generated = run.run(emit);
  std::fputs("\n", stdout);
  const double s = clock.seconds();
  if (!o.quiet)
    std::fprintf(stderr, "generated %s, %.1f tok/s%s\n", plural(static_cast<int64_t>(generated), "token").c_str(),
                 s > 0 ? static_cast<double>(generated) / s : 0.0,
                 static_cast<int64_t>(generated) < o.n_new ? " (the model ended the text)" : "");
  return 0;
}

const RegisterCommand reg(
    "generate", "Run a model on a prompt and stream the continuation (greedy by default)", 60,
    [](CLI::App& sub) -> Action {
      auto o = std::make_shared<Opts>();
      add_model_arg(sub, o->model);
      add_tokenizer_option(sub, o->tokenizer);
      auto* p = sub.add_option("--prompt", o->prompt, "prompt text (\"\" starts from BOS alone)");
      auto* pi = sub.add_option("--prompt-ids", o->prompt_ids,
                                "file of prompt token ids (one per line, or a JSON array), used as given "
                                "(include BOS)");
      p->excludes(pi);
      sub.add_option("-n,--n-predict", o->n_new,
                     "number of new tokens to generate, as llama.cpp's -n (the prompt is not counted); the prompt "
                     "and them must fit the model's context, else an error says how many fit. Fewer when the model "
                     "ends the text (EOS/BOS). Default 256. Example: -n 60");
      sub.add_option("--temperature", o->temperature, "0 = greedy (default); else sample softmax(logits/T)");
      sub.add_option("--top-p", o->top_p, "nucleus sampling threshold when temperature > 0 (default 0.9)");
      add_seed_option(sub, o->seed, "random seed for sampling");
      sub.add_flag("--ids", o->ids, "print token ids (space separated, prompt included) instead of text");
      add_quiet_option(sub, o->quiet)->description("print only the text (no speed line on stderr)");
      sub.footer(examples({"ctscope generate stories260K.bin --tokenizer tok512.bin --prompt 'Once upon a time'",
                           "ctscope generate model.gguf --prompt 'The capital of France is' -n 20 --temperature 0.8"}));
      return [o, p]() {
        o->has_prompt = p->count() > 0;
        return run_generate(*o);
      };
    });

}  // namespace
}  // namespace ctscope::cli
