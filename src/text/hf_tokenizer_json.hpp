// tokenizer.json, the Hugging Face tokenizers format, for the BPE tokenizers of
// the Llama family: SentencePiece-style (Llama 2, TinyLlama: "▁" for spaces via
// a Prepend/Replace normalizer or a Metaspace pre-tokenizer, <0xNN> byte
// fallback) and byte-level (Llama 3, Qwen2, SmolLM: GPT-2's byte map, a split
// regex, see text/split_regex.hpp). Added tokens (<s>, <|begin_of_text|>, ...)
// are matched whole in the text, never split. Anything else in the file (a
// WordPiece model, an unknown regex, a Lowercase normalizer, ...) is refused
// with one line naming the file and the key, rather than tokenized differently.
#pragma once
#include <filesystem>
#include <memory>

#include "text/tokenizer.hpp"

namespace ctscope {

// `bos`/`eos`: the model's ids (config.json), used where tokenizer.json does not
// say; BOS is prepended only if the file's post_processor template adds it.
std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::filesystem::path& file, int32_t bos, int32_t eos);

}  // namespace ctscope
