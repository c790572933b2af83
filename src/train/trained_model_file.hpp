// The trained model as a .ct.safetensors that `eval`, `generate` and
// `reconstruct` accept (ct_format.hpp), written by the same writer as
// `compress` (ctfile/ct_file_writer): amplitude-trained matrices stay
// factored (their amplitudes, and svd's or universal's basis as trained);
// every other tensor is stored whole — verbatim from the source when the run
// left it as the source has it, else as F32 (trained norms, LoRA merged into
// its matrix, fully trained tensors, an init file's trained tensors). The
// format has no LoRA tensors, and eval runs dense matrices anyway. The same
// parameters give the same bytes (no timestamps): resumed runs compare files.
#pragma once
#include <filesystem>
#include <map>
#include <string>

#include "ctfile/ct_file_writer.hpp"
#include "io/checkpoint.hpp"
#include "train/parameter_set.hpp"
#include "train/trainable.hpp"

namespace ctscope::train {

// ps: started by start_parameters(source, s), then trained; materialized here.
// Metadata "trainable" records the mode; extra_metadata adds the caller's keys.
ctfile::CtFileWritten write_trained_model(ParameterSet<float>& ps, const Checkpoint& source, const StartSettings& s,
                                          const std::filesystem::path& out,
                                          std::map<std::string, std::string> extra_metadata = {});

}  // namespace ctscope::train
