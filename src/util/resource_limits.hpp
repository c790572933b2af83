// How much a file may claim: the one place that bounds the counts, lengths
// and sizes read from checkpoint, tokenizer and config headers before
// anything is allocated or quoted. Sizes backed by bytes in the file are
// bounded by the file's size where they are read (a tensor's data, a GGUF
// string); the caps here bound what the bytes alone cannot (a zero-size
// tensor's dimensions, a count of small items, a message that quotes a name),
// and allocations a header sizes without bytes to back them (the KV cache) are
// bounded by the machine's memory. README "Limits" lists them with the why.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace ctscope::limits {

// Tensor names and GGUF metadata keys: Hugging Face names are under 100 bytes,
// GGML's own limit is 64; every message about a tensor quotes its name.
inline constexpr uint64_t kMaxNameBytes = 1024;
// A safetensors JSON header: the reference implementation's MAX_HEADER_SIZE.
inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// Tensors in one file: the largest checkpoints hold under 100,000 in all
// shards; each costs a few hundred bytes of bookkeeping however small.
inline constexpr uint64_t kMaxTensors = 1'000'000;
// One GGUF metadata string (chat templates are kilobytes, tokens bytes).
inline constexpr uint64_t kMaxStringBytes = uint64_t{64} << 20;
// Dimensions of one tensor (messages quote shapes; GGUF allows 4).
inline constexpr uint64_t kMaxRank = 8;
// One dimension: the kernels hand dimensions to BLAS as int.
inline constexpr uint64_t kMaxDim = 2147483647;
// Vocabulary size / token ids: ids index tables (Llama 3: 128,256; Gemma 256,000).
inline constexpr uint64_t kMaxVocab = uint64_t{1} << 24;
// One token's bytes in a llama2.c tokenizer.bin.
inline constexpr uint64_t kMaxTokenBytes = uint64_t{1} << 16;
// A tokenizer.json read whole (Llama 3's is 9 MB).
inline constexpr uint64_t kMaxTokenizerJsonBytes = uint64_t{1} << 30;

// Throws Error "WHERE: WHAT CLAIMED is over the limit of LIMIT (WHY)" when
// claimed > limit; `where` names the user's file.
void check(const std::string& where, std::string_view what, uint64_t claimed, uint64_t limit, std::string_view why);

// A name (`what`: "tensor name", "metadata key") of at most kMaxNameBytes,
// else an Error quoting only its start.
void check_name(const std::string& where, std::string_view what, std::string_view name);

// Bytes this process could still allocate without swapping: MemAvailable of
// /proc/meminfo, else free pages (sysconf).
uint64_t available_memory();

// An allocation of `bytes` that a header sized (not backed by the file): an
// Error naming `where` (when not empty), `what` and both sizes when it exceeds
// available_memory().
void check_allocation(const std::string& where, std::string_view what, uint64_t bytes);

}  // namespace ctscope::limits
