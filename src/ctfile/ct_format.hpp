// The CT-compressed checkpoint (.ct.safetensors): a valid safetensors file that
// holds, per fitted matrix X, its amplitudes "X.ct_amplitudes" [n, K] (and the
// basis "X.ct_basis" [K, d] for the per-matrix svd basis; one
// "ct.universal.d<d>.basis"/".offset" per row length for the universal basis),
// every unfitted tensor verbatim (a trained model: those it changed as F32;
// the metadata keeps the source's dtype), and __metadata__ with the format
// version, basis, K, seed, each original tensor's name/shape/dtype and the
// source config. Gaussian, dct and random bases are not stored: they follow
// from (K, d, seed). Optionally the source's vocabulary (ct_vocab.hpp):
// "ct.vocab.*" tensors and metadata vocab_model, so the file runs without
// --tokenizer. This header names the pieces; ct_file_writer writes them and
// ct_reader reads them.
#pragma once
#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace ctscope::ctfile {

inline constexpr const char* kCtFormat = "ctscope-ct";
inline constexpr int kCtFormatVersion = 1;

inline std::string amplitudes_name(const std::string& tensor) { return tensor + ".ct_amplitudes"; }
inline std::string basis_tensor_name(const std::string& tensor) { return tensor + ".ct_basis"; }
// what: "basis" or "offset"
inline std::string universal_name(int64_t d, const char* what) { return fmt::format("ct.universal.d{}.{}", d, what); }

// The carried vocabulary: every token's bytes back to back (U8), each token's
// length in bytes (I32 [V]), score (F32 [V]) and, when the source has them,
// SentencePiece/GGUF token types (I32 [V]).
inline constexpr const char* kVocabPieces = "ct.vocab.pieces";
inline constexpr const char* kVocabLengths = "ct.vocab.lengths";
inline constexpr const char* kVocabScores = "ct.vocab.scores";
inline constexpr const char* kVocabTypes = "ct.vocab.types";

// metadata config key that records the source's RoPE layout (transformers ignores it).
inline constexpr const char* kRopeLayoutKey = "ctscope_rope_layout";

}  // namespace ctscope::ctfile
