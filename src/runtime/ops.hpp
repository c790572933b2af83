// The Llama forward pass as free functions, one per op (llm.c style). Row-major
// float32 throughout; activations are [T, n] for T tokens; weight matrices are
// [out, in] (PyTorch Linear layout).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "model/config.hpp"

namespace ctscope::ops {

// out[t] = x[t] / rms(x[t]) * w, for T rows of n.
void rmsnorm(float* out, const float* x, const float* w, int64_t T, int64_t n, float eps);

// out[T, n_out] = x[T, n_in] * W[n_out, n_in]^T: one SGEMM (sgemv when T == 1).
void matmul(float* out, const float* x, const float* W, int64_t T, int64_t n_in, int64_t n_out);

// Rotary embedding of T rows of n_heads heads of head_dim, row t at position
// pos0 + t. Interleaved rotates pairs (2i, 2i+1), HalfSplit pairs (i, i + head_dim/2);
// both with frequency theta^(-2i/head_dim).
void rope(float* x, int64_t T, int64_t n_heads, int64_t head_dim, int64_t pos0, double theta, RopeLayout layout);

// The pieces of rope, shared with training's forward and backward (which must
// rotate exactly as this runtime does): the frequency of each of the
// head_dim / 2 pairs, theta^(-2i/head_dim) in double; the cos and sin (times
// sign) of pos * freq rounded to S; one head's pairs rotated by them.
std::vector<double> rope_frequencies(double theta, int64_t head_dim);

template <class S>
void rope_angles(S* cs, S* sn, const std::vector<double>& freq, double pos, double sign = 1.0) {
  for (size_t i = 0; i < freq.size(); ++i) {
    cs[i] = static_cast<S>(std::cos(pos * freq[i]));
    sn[i] = static_cast<S>(sign * std::sin(pos * freq[i]));
  }
}

template <class S>
void rope_rotate_head(S* v, const S* cs, const S* sn, int64_t half, RopeLayout layout) {
  for (int64_t i = 0; i < half; ++i) {
    const int64_t a = layout == RopeLayout::Interleaved ? 2 * i : i;
    const int64_t b = layout == RopeLayout::Interleaved ? 2 * i + 1 : i + half;
    const S v0 = v[a], v1 = v[b], c = cs[i], s = sn[i];
    v[a] = v0 * c - v1 * s;
    v[b] = v0 * s + v1 * c;
  }
}

// Causal grouped-query attention for T queries at positions pos0..pos0+T-1 over
// the cache rows 0..pos0+T-1. q and out are [T, n_heads*head_dim]; k_cache and
// v_cache are [positions, n_kv_heads*head_dim]. Many queries: two SGEMMs per
// head; few (decoding): a loop parallel over (query, head).
void attention(float* out, const float* q, const float* k_cache, const float* v_cache, int64_t T, int64_t pos0,
               int64_t n_heads, int64_t n_kv_heads, int64_t head_dim);

// gate[i] = silu(gate[i]) * up[i]: the SwiGLU activation before down_proj.
void swiglu(float* gate, const float* up, int64_t n);

// x[i] += y[i]
void add_inplace(float* x, const float* y, int64_t n);

}  // namespace ctscope::ops
