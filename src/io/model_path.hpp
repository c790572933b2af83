// What MODEL may name besides a file or a model directory: the Hugging Face hub
// cache, as `huggingface-cli download` / transformers leave it. A cache root
// (models--ORG--NAME, holding refs/ snapshots/ blobs/) resolves to the snapshot
// refs/main names; a repo id (ORG/NAME) that is not a path resolves through the
// cache directory. A path that exists as given always wins; nothing is fetched.
#pragma once
#include <filesystem>
#include <string>

namespace ctscope {

// The hub cache directory, as huggingface_hub chooses it: $HF_HUB_CACHE, else
// $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
std::filesystem::path hf_hub_cache_dir();

// `given` itself, or the snapshot directory it stands for (see above). Throws
// Error naming `given` and where it looked when a repo id is not in the cache,
// or a cache root has no usable snapshot.
std::filesystem::path resolve_model_path(const std::filesystem::path& given);

}  // namespace ctscope
