// Renderings of finetune's and finetune-compare's results: the terminal table
// and the JSON (schemas in the README, "Fine-tuning results").
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "eval/finetune_comparison.hpp"
#include "eval/finetune_run.hpp"

namespace ctscope::report {

// finetune's result less the run record (tool, model, inputs, settings, units:
// add_run_record): params, before, after, training_log, timing.
nlohmann::json finetune_json(const FinetuneResult& r, uint64_t stored_params, uint64_t total_params);

// finetune-compare's table: variant, trainable and stored params, valid
// perplexity before and after, KL and top-1 against the reference after
// (before for rows not trained), and the floors.
std::string finetune_compare_text(const FinetuneComparison& c);
nlohmann::json finetune_compare_json(const FinetuneComparison& c);

// The units of both results' keys.
nlohmann::json finetune_units();

}  // namespace ctscope::report
