// A vocabulary as a SentencePiece tokenizer.model: the protobuf ModelProto that
// Hugging Face Llama directories ship, which ctscope (open_tokenizer) and
// transformers' LlamaTokenizer load from a model directory. `reconstruct`
// writes it beside the dense weights so they run without --tokenizer.
//
// Written: every piece (piece, score, type); trainer_spec {model_type BPE,
// vocab_size, byte_fallback when there are <0xXX> pieces, unk/bos/eos ids and
// pieces, pad_id -1}; normalizer_spec {"identity", add_dummy_prefix,
// remove_extra_whitespaces false} - Llama 2's own settings, under which
// SentencePiece's BPE is the merge-by-score that BpeTokenizer runs.
#pragma once
#include <cstdint>
#include <string>

#include "io/checkpoint.hpp"

namespace ctscope::ctfile {

// The bytes of tokenizer.model for v ("llama" pieces spell a space U+2581,
// "llama2.c" pieces " ", converted here). Token types are v's (GGUF numbers
// them as SentencePiece does) or, where v has none, inferred as llama2.c's
// exporter left them: "<unk>" (else id 0) unknown, bos/eos control, "<0xXX>"
// byte, the rest normal. Error naming `where` and the reason when v cannot be
// a SentencePiece model (another tokenizer model, an empty or repeated piece,
// not exactly one unknown token).
std::string sentencepiece_model_bytes(const Vocabulary& v, int64_t bos_id, int64_t eos_id, const std::string& where);

}  // namespace ctscope::ctfile
