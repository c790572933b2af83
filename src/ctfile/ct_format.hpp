// The CT-compressed checkpoint (.ct.safetensors): a valid safetensors file that
// holds, per fitted matrix X, its amplitudes "X.ct_amplitudes" [n, K] (and the
// basis "X.ct_basis" [K, d] for the per-matrix svd basis; one
// "ct.universal.d<d>.basis"/".offset" per row length for the universal basis),
// every unfitted tensor verbatim, and __metadata__ with the format version,
// basis, K, seed, each original tensor's name/shape/dtype and the source config.
// Gaussian, dct and random bases are not stored: they follow from (K, d, seed).
// This header names the pieces; ct_writer writes them and ct_reader reads them.
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

// metadata config key that records the source's RoPE layout (transformers ignores it).
inline constexpr const char* kRopeLayoutKey = "ctscope_rope_layout";

}  // namespace ctscope::ctfile
