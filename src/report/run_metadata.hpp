// What every JSON result records so it can be reproduced and traced: the tool
// (version, git commit), each input (absolute path + fingerprint of its
// files), every setting, and the units of the numbers. One place, so analyze,
// eval, eval-compression and inspect say it the same way (README, "Machine-
// readable output").
#pragma once
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ct/tensor_selection.hpp"
#include "io/checkpoint.hpp"

namespace ctscope::report {

// {"name": "ctscope", "version": "0.1.0", "git_commit": "db9bde2-dirty" or "", "schema_version": 1,
//  "run_utc": "2026-11-29T16:40:00.123456789Z"}
nlohmann::json tool_json();

// One input given by path: {"path": absolute, "files": [fingerprint, ...]}.
// A file is its own one entry; a directory (a Hugging Face checkpoint) lists
// every regular file directly in it, by name. Each fingerprint is
// {"path", "size_bytes", "mtime_utc", "fnv1a64", "hashed_bytes"} (util/file_fingerprint.hpp).
nlohmann::json input_json(const std::filesystem::path& p);

// The "model" block of a result: input_json plus the schema's
// "format", "total_params" and "tensors".
nlohmann::json model_json(const std::string& path, std::string_view format, uint64_t total_params, uint64_t tensors);
nlohmann::json model_json(const Checkpoint& ck);

// {"key": "unit", ...} for the given result keys, from one glossary (an
// unknown key is a programming error: std::out_of_range).
nlohmann::json units_json(std::initializer_list<std::string_view> keys);

// The inputs of an evaluation besides the model: {"text", "text_ids",
// "tokenizer", "reference"}, each input_json or null when not used. A
// tokenizer not given is {"path": null, "source": "..."}: the model's own.
nlohmann::json eval_inputs_json(const std::string& text, const std::string& text_ids, const std::string& tokenizer,
                                const std::string& reference);

// The units of each command's result keys.
nlohmann::json analysis_units();     // analyze
nlohmann::json perplexity_units();   // eval
nlohmann::json compression_units();  // eval-compression
nlohmann::json inspect_units();      // inspect

// The selection options as given: {"preset", "include", "exclude", "roles", "layers"}.
nlohmann::json selection_json(const ct::TensorSelection& s);

// Stamps a result: "tool", "model" (when given, replacing what is there),
// "inputs" (when not null), "settings" (merged over the result's own settings)
// and "units". The keys a result already has stay where they are.
void add_run_record(nlohmann::json& result, const nlohmann::json& model, const nlohmann::json& inputs,
                    const nlohmann::json& settings, const nlohmann::json& units);

}  // namespace ctscope::report
