// The Llama layers for training, in the style of llm.c: one free function per
// layer forward and one per backward, on row-major buffers the caller planned
// (activations [N, n] for N = B*T tokens; weights [out, in]). A backward
// function takes what its forward kept and the gradient of its output; it
// adds to weight gradients (a null one is not wanted) and writes or adds to
// input gradients as each comment says.
//
// Templated on the scalar: float for real runs (the matmuls are BLAS GEMMs;
// sums that need it are taken in double), double for the gradient checks.
// The float forward computes what the runtime computes (runtime/ops.cpp), in
// the same order where it matters, so training starts from eval's numbers;
// only its exp (softmax, SwiGLU) is the vector one of util/vector_exp, a few
// ulps from std::exp.
#pragma once
#include <cstdint>

#include "model/config.hpp"

namespace ctscope::train {

// C[M,N] = alpha op(A) op(B) + beta C, row-major: cblas_sgemm / cblas_dgemm on
// slices of C, one per worker with OpenBLAS on one thread, subnormal results
// flushed to zero (util/flush_denormals.hpp); called from inside a parallel
// loop, one call on the calling thread.
template <class S>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, S alpha, const S* A, int64_t lda, const S* B,
          int64_t ldb, S beta, S* C, int64_t ldc);

// What every gemm call so far computed (2 M N K each) and how long it took,
// summed over threads (attention's per-group GEMMs run two at a time, one on
// each worker, so the seconds can exceed the wall time they took): a
// benchmark's honest FLOP count of a training step is the difference over
// the step.
struct GemmStats {
  uint64_t calls = 0, flops = 0;
  double seconds = 0;
};
GemmStats gemm_stats();

// out[t] = embed[tokens[t]];  backward: dembed[tokens[t]] += dout[t].
template <class S>
void embedding_forward(S* out, const int32_t* tokens, const S* embed, int64_t N, int64_t d);
template <class S>
void embedding_backward(S* dembed, const S* dout, const int32_t* tokens, int64_t N, int64_t d);

// out[t] = w * x[t] * rstd[t], rstd = 1/sqrt(mean(x[t]^2) + eps) (kept for the backward).
// Backward: dx += ..., dw += ... (dw null: not wanted).
template <class S>
void rmsnorm_forward(S* out, S* rstd, const S* x, const S* w, int64_t N, int64_t d, double eps);
template <class S>
void rmsnorm_backward(S* dx, S* dw, const S* dout, const S* x, const S* w, const S* rstd, int64_t N, int64_t d);

// out[N, n_out] = x[N, n_in] W[n_out, n_in]^T. Backward: dx = dout W (or
// dx += when accumulate_dx; dx null: not wanted), dW += dout^T x.
template <class S>
void matmul_forward(S* out, const S* x, const S* W, int64_t N, int64_t n_in, int64_t n_out);
template <class S>
void matmul_backward(S* dx, S* dW, const S* dout, const S* x, const S* W, int64_t N, int64_t n_in, int64_t n_out,
                     bool accumulate_dx);

// The same product for a factored W = A G (+ 1 o^T), A [n_out, K], G [K, n_in],
// offset o [n_in] (null: none), never formed, in two steps so that matrices
// reading one input through one basis share the first: xg = x G^T [N, K]
// (factored_input_forward), then out = xg A^T (+ (x . o) on every output):
// 2 N K (n_in + n_out) FLOPs instead of 2 N n_in n_out. The backward runs the
// same steps back: dxg = dout A (or += when accumulate: summed over the
// matrices sharing G), then dx = dxg G (or +=), and each offset adds
// (dout 1) o^T to dx. The factors' gradients are the caller's (the parameter
// set takes dout, x and xg: WeightGradientSink).
template <class S>
void factored_input_forward(S* xg, const S* x, const S* G, int64_t N, int64_t n_in, int64_t K);
template <class S>
void factored_matmul_forward(S* out, const S* xg, const S* x, const S* A, const S* offset, int64_t N, int64_t n_in,
                             int64_t n_out, int64_t K);
template <class S>
void factored_output_backward(S* dxg, const S* dout, const S* A, int64_t N, int64_t n_out, int64_t K, bool accumulate);
template <class S>
void factored_input_backward(S* dx, const S* dxg, const S* G, int64_t N, int64_t n_in, int64_t K, bool accumulate);
template <class S>
void offset_backward(S* dx, const S* dout, const S* offset, int64_t N, int64_t n_in, int64_t n_out);

// out[t] = row tokens[t] of a factored embedding E = A G (+ 1 o^T), A [vocab, K]:
// the rows A[tokens[t]] gathered into tmp [N, K], times G (+ o).
template <class S>
void factored_embedding_forward(S* out, S* tmp, const int32_t* tokens, const S* A, const S* G, const S* offset,
                                int64_t N, int64_t d, int64_t K);

// Rotary embedding in place for B sequences of T rows of n_heads heads, row t
// at position t (ops::rope's two layouts). The backward rotates back (the
// rotation is orthogonal): dx in place.
template <class S>
void rope_forward(S* x, int64_t B, int64_t T, int64_t n_heads, int64_t head_dim, double theta, RopeLayout layout);
template <class S>
void rope_backward(S* dx, int64_t B, int64_t T, int64_t n_heads, int64_t head_dim, double theta, RopeLayout layout);

// Causal grouped-query attention within each of B sequences of T tokens:
// q, out [N, n_heads*hd]; k, v [N, n_kv_heads*hd]; probs [B, n_kv_heads, T,
// group, T] (group = n_heads / n_kv_heads; row (t, j) holds the softmax of
// query head g*group + j at token t, zero above the diagonal), kept for the
// backward. Backward writes dq, dk, dv (zeroed first). Both use `scratch` of
// attention_scratch_size values: the KV groups are split among the workers
// (util/thread_pool.hpp), each with its own part.
int64_t attention_scratch_size(int64_t T, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim);
template <class S>
void attention_forward(S* out, S* probs, S* scratch, const S* q, const S* k, const S* v, int64_t B, int64_t T,
                       int64_t n_heads, int64_t n_kv_heads, int64_t head_dim);
template <class S>
void attention_backward(S* dq, S* dk, S* dv, S* scratch, const S* dout, const S* probs, const S* q, const S* k,
                        const S* v, int64_t B, int64_t T, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim);

// h = silu(gate) * up. Backward writes dgate, dup.
template <class S>
void swiglu_forward(S* h, const S* gate, const S* up, int64_t n);
template <class S>
void swiglu_backward(S* dgate, S* dup, const S* dh, const S* gate, const S* up, int64_t n);

// Per row: loss[t] = logsumexp(logits[t]) - logits[t][target[t]], in double;
// rows with a negative target are not scored (loss 0). lse[t] is kept for the
// backward. Returns the sum of the scored losses.
template <class S>
double cross_entropy_forward(double* loss, double* lse, const S* logits, const int32_t* targets, int64_t N, int64_t V);
// dlogits = scale * (softmax(logits) - onehot(target)) on scored rows, 0 elsewhere.
template <class S>
void cross_entropy_backward(S* dlogits, const S* logits, const double* lse, const int32_t* targets, int64_t N,
                            int64_t V, double scale);

// Distillation, per scored row: kl[t] = KL(p || q) = sum_v p_v (log p_v - log q_v)
// with p = softmax(teacher[t]) and q = softmax(logits[t]), in double, as eval's
// kl_mean (eval/perplexity.cpp) computes it; lse is the student's from
// cross_entropy_forward, teacher_lse[t] the teacher's (kept for the backward).
// Unscored rows (negative target): 0. Returns the sum over the scored rows.
template <class S>
double distill_forward(double* kl, double* teacher_lse, const S* logits, const double* lse, const S* teacher,
                       const int32_t* targets, int64_t N, int64_t V);
// dKL/dlogits = q - p: dlogits += scale * (softmax(logits) - softmax(teacher))
// on scored rows (after cross_entropy_backward wrote them).
template <class S>
void distill_backward(S* dlogits, const S* logits, const double* lse, const S* teacher, const double* teacher_lse,
                      const int32_t* targets, int64_t N, int64_t V, double scale);

}  // namespace ctscope::train
