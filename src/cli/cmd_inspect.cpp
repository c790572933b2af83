// ctscope inspect MODEL: the tensor table, totals and config of a checkpoint.
#include <iostream>

#include "cli/command.hpp"
#include "io/checkpoint.hpp"
#include "report/checkpoint_report.hpp"
#include "report/run_metadata.hpp"
#include "util/atomic_file.hpp"
#include "util/json_text.hpp"

namespace ctscope::cli {
namespace {

// The checkpoint's JSON with the run's record: tool, absolute path and file fingerprints, units.
nlohmann::json inspect_json(const Checkpoint& ck) {
  nlohmann::json j = report::checkpoint_json(ck);
  j.update(report::input_json(ck.path));
  report::add_run_record(j, nullptr, nullptr, nullptr, report::inspect_units());
  return j;
}

struct Opts {
  std::string model, json;
  bool quiet = false;
};

const RegisterCommand reg("inspect",
                          "List a checkpoint's tensors (name, role, layer, dtype, shape), totals and config; for a "
                          ".ct.safetensors the source model's tensors (fitted or stored dense), config, vocabulary, "
                          "basis and K.\n  e.g. ctscope inspect m.ct.safetensors",
                          10, [](CLI::App& sub) -> Action {
  auto o = std::make_shared<Opts>();
  add_model_arg(sub, o->model);
  add_output_option(sub, "--json", o->json,
                    "write the tensors, totals and config as JSON to FILE ('-': stdout, instead of the table)");
  add_quiet_option(sub, o->quiet);
  sub.footer(examples({"ctscope inspect model.gguf", "ctscope inspect ./Llama-3.2-1B --json - | jq .totals"}));
  return [o]() {
    Checkpoint ck = Checkpoint::open(o->model);
    if (!o->json.empty()) write_file_atomic(o->json, json_text(inspect_json(ck), 2) + "\n");
    // With --json - the JSON is what stdout is for; the table would only repeat it on stderr.
    if (!o->quiet && !is_stdout_name(o->json)) std::cout << report::checkpoint_text(ck);
    return 0;
  };
});

}  // namespace
}  // namespace ctscope::cli
