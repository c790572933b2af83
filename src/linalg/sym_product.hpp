// Z = M X for the Krylov steps, M symmetric (m x m), X a thin block (m x b).
// The product reads all of M for little arithmetic, so memory traffic sets its
// speed: M is kept as float tiles of its upper triangle only (half the bytes
// of a full copy), and each off-diagonal tile serves both M_IJ X_J and
// M_IJ^T X_I while it is in L1.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ctscope::linalg {

// Upper-triangle tiles of a symmetric matrix, tile (I, J >= I) row-major
// kSymTile x kSymTile; diagonal tiles hold both triangles, padding is zero.
struct PackedSym {
  static constexpr int64_t kTile = 64;
  int64_t m = 0, tiles = 0;
  std::vector<float> data;
  int64_t padded() const { return tiles * kTile; }
  size_t offset(int64_t I, int64_t J) const {
    return static_cast<size_t>((I * tiles - I * (I - 1) / 2 + (J - I)) * kTile * kTile);
  }
  const float* tile(int64_t I, int64_t J) const { return data.data() + offset(I, J); }
};

// From U (m x m row-major double, upper triangle valid). Buffers are reused.
void pack_upper(const std::vector<double>& U, int64_t m, PackedSym& P);

// Z = M X; X and Z are P.padded() x b row-major (X's padding rows zero).
// b must be 16 or 32 (the block sizes top_eigen uses); other b throw.
void sym_product(const PackedSym& P, const float* X, int b, float* Z);

}  // namespace ctscope::linalg
