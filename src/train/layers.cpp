#include "train/layers.hpp"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <type_traits>
#include <vector>

#include "linalg/blas_threads.hpp"
#include "runtime/ops.hpp"
#include "util/flush_denormals.hpp"
#include "util/thread_pool.hpp"
#include "util/vector_exp.hpp"

namespace ctscope::train {

namespace {
blasint bi(int64_t v) { return static_cast<blasint>(v); }
CBLAS_TRANSPOSE tr(bool t) { return t ? CblasTrans : CblasNoTrans; }

// gemm_stats()'s totals. Attention calls gemm from every worker at once
// (for_kv_groups), the rest of training from one thread (which splits each
// call among the workers), and tests may train in several: atomics, relaxed.
std::atomic<uint64_t> g_calls{0}, g_flops{0}, g_nanoseconds{0};

// Counts one call of M x N x K around `run`.
template <class Run>
void counted(int64_t M, int64_t N, int64_t K, const Run& run) {
  const auto t0 = std::chrono::steady_clock::now();
  run();
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
  g_calls.fetch_add(1, std::memory_order_relaxed);
  g_flops.fetch_add(2 * static_cast<uint64_t>(M) * static_cast<uint64_t>(N) * static_cast<uint64_t>(K),
                    std::memory_order_relaxed);
  g_nanoseconds.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
}
}  // namespace

GemmStats gemm_stats() {
  return {g_calls.load(std::memory_order_relaxed), g_flops.load(std::memory_order_relaxed),
          static_cast<double>(g_nanoseconds.load(std::memory_order_relaxed)) * 1e-9};
}

namespace {

// One BLAS call on the calling thread, subnormals flushed (flush_denormals.hpp).
template <class S>
void blas_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, S alpha, const S* A, int64_t lda,
               const S* B, int64_t ldb, S beta, S* C, int64_t ldc) {
  const ScopedFlushDenormals flush;
  if constexpr (std::is_same_v<S, float>)
    cblas_sgemm(CblasRowMajor, tr(trans_a), tr(trans_b), bi(M), bi(N), bi(K), alpha, A, bi(lda), B, bi(ldb), beta, C,
                bi(ldc));
  else
    cblas_dgemm(CblasRowMajor, tr(trans_a), tr(trans_b), bi(M), bi(N), bi(K), alpha, A, bi(lda), B, bi(ldb), beta, C,
                bi(ldc));
}

// Slices of C's rows or columns (the longer side, in multiples of 16) for the
// workers, each one BLAS call on one thread: OpenBLAS's own threads cannot be
// told to flush subnormals, and its threading gains nothing on the skinny
// GEMMs of a factored step (N or K = 64). A call from inside a parallel loop
// (attention's KV groups) runs whole on its thread.
constexpr int64_t kSliceGrain = 16;

// The largest of x[0..n) (n >= 1), in 16 independent lanes so that it
// vectorizes; max is exact in any order.
template <class S>
S row_max(const S* x, int64_t n) {
  constexpr int kLanes = 16;
  S m[kLanes];
  std::fill_n(m, kLanes, x[0]);
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int k = 0; k < kLanes; ++k) m[k] = std::max(m[k], x[j + k]);
  for (; j < n; ++j) m[0] = std::max(m[0], x[j]);
  return *std::max_element(m, m + kLanes);
}

// The sum of term(j) over j < n in `Lanes` independent partial sums, added
// pairwise at the end, so that it vectorizes (one running sum is a chain of
// dependent adds). The order moves a float softmax row's sum by an ulp or
// so, a double sum by an ulp of double, below float's resolution.
template <class Acc, int Lanes, class Term>
Acc lanes_sum(int64_t n, const Term& term) {
  Acc s[Lanes] = {};
  int64_t j = 0;
  for (; j + Lanes <= n; j += Lanes)
    for (int k = 0; k < Lanes; ++k) s[k] += term(j + k);
  for (; j < n; ++j) s[0] += term(j);
  for (int w = Lanes / 2; w > 0; w /= 2)
    for (int k = 0; k < w; ++k) s[k] += s[k + w];
  return s[0];
}

// sum of a[j] * b[j] in double over j < n (lanes_sum).
template <class S>
double dot_lanes(const S* a, const S* b, int64_t n) {
  return lanes_sum<double, 8>(n, [&](int64_t j) { return static_cast<double>(a[j]) * static_cast<double>(b[j]); });
}

// fn(t) for every row t < N, the rows split among the workers: for layers
// whose rows are independent, so the results are those of one thread.
template <class Fn>
void for_rows(int64_t N, const Fn& fn) {
  parallel_for(N, 1, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t) fn(t);
  });
}

}  // namespace

template <class S>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, S alpha, const S* A, int64_t lda, const S* B,
          int64_t ldb, S beta, S* C, int64_t ldc) {
  counted(M, N, K, [&] {
    const linalg::ScopedBlasThreads serial_blas(1);
    if (M >= N)
      parallel_for(M, kSliceGrain, [&](int64_t r0, int64_t r1, int) {
        blas_gemm(trans_a, trans_b, r1 - r0, N, K, alpha, trans_a ? A + r0 : A + r0 * lda, lda, B, ldb, beta,
                  C + r0 * ldc, ldc);
      });
    else
      parallel_for(N, kSliceGrain, [&](int64_t c0, int64_t c1, int) {
        blas_gemm(trans_a, trans_b, M, c1 - c0, K, alpha, A, lda, trans_b ? B + c0 * ldb : B + c0, ldb, beta, C + c0,
                  ldc);
      });
  });
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                          float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t);

template <class S>
void embedding_forward(S* out, const int32_t* tokens, const S* embed, int64_t N, int64_t d) {
  for (int64_t t = 0; t < N; ++t) std::copy_n(embed + static_cast<int64_t>(tokens[t]) * d, d, out + t * d);
}

template <class S>
void embedding_backward(S* dembed, const S* dout, const int32_t* tokens, int64_t N, int64_t d) {
  for (int64_t t = 0; t < N; ++t) {
    S* row = dembed + static_cast<int64_t>(tokens[t]) * d;
    for (int64_t i = 0; i < d; ++i) row[i] += dout[t * d + i];
  }
}

template <class S>
void rmsnorm_forward(S* out, S* rstd, const S* x, const S* w, int64_t N, int64_t d, double eps) {
  for_rows(N, [&](int64_t t) {
    const S* xr = x + t * d;
    const double ss = dot_lanes(xr, xr, d);
    // As ops::rmsnorm: the scale is rounded to S once, then w * (scale * x).
    const auto r = static_cast<S>(1.0 / std::sqrt(ss / static_cast<double>(d) + eps));
    rstd[t] = r;
    for (int64_t i = 0; i < d; ++i) out[t * d + i] = w[i] * (r * xr[i]);
  });
}

template <class S>
void rmsnorm_backward(S* dx, S* dw, const S* dout, const S* x, const S* w, const S* rstd, int64_t N, int64_t d) {
  // y = w x r with r = (mean x^2 + eps)^(-1/2):  dx_j = r (w_j dy_j - x_j r^2 <dy w, x> / d).
  for_rows(N, [&](int64_t t) {
    const S* xr = x + t * d;
    const S* dy = dout + t * d;
    const double r = rstd[t];
    const double dot = lanes_sum<double, 8>(d, [&](int64_t i) { return static_cast<double>(dy[i]) * w[i] * xr[i]; });
    const double c = r * r * dot / static_cast<double>(d);
    for (int64_t i = 0; i < d; ++i) dx[t * d + i] += static_cast<S>(r * (static_cast<double>(w[i]) * dy[i] - xr[i] * c));
  });
  if (!dw) return;
  // dw sums over the rows: split by column, each summed in row order as on one thread.
  parallel_for(d, 64, [&](int64_t i0, int64_t i1, int) {
    for (int64_t t = 0; t < N; ++t)
      for (int64_t i = i0; i < i1; ++i) dw[i] += dout[t * d + i] * x[t * d + i] * rstd[t];
  });
}

template <class S>
void matmul_forward(S* out, const S* x, const S* W, int64_t N, int64_t n_in, int64_t n_out) {
  gemm<S>(false, true, N, n_out, n_in, S(1), x, n_in, W, n_in, S(0), out, n_out);
}

template <class S>
void matmul_backward(S* dx, S* dW, const S* dout, const S* x, const S* W, int64_t N, int64_t n_in, int64_t n_out,
                     bool accumulate_dx) {
  if (dx) gemm<S>(false, false, N, n_in, n_out, S(1), dout, n_out, W, n_in, accumulate_dx ? S(1) : S(0), dx, n_in);
  if (dW) gemm<S>(true, false, n_out, n_in, N, S(1), dout, n_out, x, n_in, S(1), dW, n_in);
}

template <class S>
void factored_input_forward(S* xg, const S* x, const S* G, int64_t N, int64_t n_in, int64_t K) {
  gemm<S>(false, true, N, K, n_in, S(1), x, n_in, G, n_in, S(0), xg, K);  // x G^T [N, K]
}

template <class S>
void factored_matmul_forward(S* out, const S* xg, const S* x, const S* A, const S* offset, int64_t N, int64_t n_in,
                             int64_t n_out, int64_t K) {
  gemm<S>(false, true, N, n_out, K, S(1), xg, K, A, K, S(0), out, n_out);  // (x G^T) A^T
  if (!offset) return;
  for_rows(N, [&](int64_t t) {  // + (x . o) on every output of row t
    double xo = 0;
    for (int64_t j = 0; j < n_in; ++j) xo += static_cast<double>(x[t * n_in + j]) * offset[j];
    for (int64_t i = 0; i < n_out; ++i) out[t * n_out + i] += static_cast<S>(xo);
  });
}

template <class S>
void factored_output_backward(S* dxg, const S* dout, const S* A, int64_t N, int64_t n_out, int64_t K, bool accumulate) {
  gemm<S>(false, false, N, K, n_out, S(1), dout, n_out, A, K, accumulate ? S(1) : S(0), dxg, K);  // dout A [N, K]
}

template <class S>
void factored_input_backward(S* dx, const S* dxg, const S* G, int64_t N, int64_t n_in, int64_t K, bool accumulate) {
  gemm<S>(false, false, N, n_in, K, S(1), dxg, K, G, n_in, accumulate ? S(1) : S(0), dx, n_in);  // (dout A) G
}

template <class S>
void offset_backward(S* dx, const S* dout, const S* offset, int64_t N, int64_t n_in, int64_t n_out) {
  for_rows(N, [&](int64_t t) {  // + (dout 1) o^T
    double r = 0;
    for (int64_t i = 0; i < n_out; ++i) r += static_cast<double>(dout[t * n_out + i]);
    for (int64_t j = 0; j < n_in; ++j) dx[t * n_in + j] += static_cast<S>(r * static_cast<double>(offset[j]));
  });
}

template <class S>
void factored_embedding_forward(S* out, S* tmp, const int32_t* tokens, const S* A, const S* G, const S* offset,
                                int64_t N, int64_t d, int64_t K) {
  for (int64_t t = 0; t < N; ++t) std::copy_n(A + static_cast<int64_t>(tokens[t]) * K, K, tmp + t * K);
  if (offset)
    for (int64_t t = 0; t < N; ++t) std::copy_n(offset, d, out + t * d);
  gemm<S>(false, false, N, d, K, S(1), tmp, K, G, d, offset ? S(1) : S(0), out, d);  // as materialize: o, then += A G
}

namespace {

// Rotates every pair of every head by +angle (forward) or -angle (backward),
// the positions split among the workers; the angles and the rotation are
// the runtime's (ops::rope).
template <class S>
void rope_rotate(S* x, int64_t B, int64_t T, int64_t n_heads, int64_t head_dim, double theta, RopeLayout layout,
                 double sign) {
  const int64_t half = head_dim / 2;
  const std::vector<double> freq = ops::rope_frequencies(theta, head_dim);
  parallel_for(T, 1, [&](int64_t t0, int64_t t1, int) {
    std::vector<S> cs(static_cast<size_t>(half)), sn(static_cast<size_t>(half));
    for (int64_t t = t0; t < t1; ++t) {
      ops::rope_angles(cs.data(), sn.data(), freq, static_cast<double>(t), sign);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < n_heads; ++h)
          ops::rope_rotate_head(x + ((b * T + t) * n_heads + h) * head_dim, cs.data(), sn.data(), half, layout);
    }
  });
}

}  // namespace

template <class S>
void rope_forward(S* x, int64_t B, int64_t T, int64_t n_heads, int64_t head_dim, double theta, RopeLayout layout) {
  rope_rotate(x, B, T, n_heads, head_dim, theta, layout, 1.0);
}

template <class S>
void rope_backward(S* dx, int64_t B, int64_t T, int64_t n_heads, int64_t head_dim, double theta, RopeLayout layout) {
  rope_rotate(dx, B, T, n_heads, head_dim, theta, layout, -1.0);
}

namespace {

// Causal attention computes scores, P V and their gradients in blocks of
// query rows: the rows r0 .. r0+rows-1 see keys 0 .. r0+rows-1 only, so the
// GEMMs skip the masked upper triangle except within the diagonal block
// (at T = 512, 5/8 of the full T x T work).
constexpr int64_t kQueryBlock = 128;

template <class Block>
void for_query_blocks(int64_t T, const Block& block) {
  for (int64_t r0 = 0; r0 < T; r0 += kQueryBlock) {
    const int64_t rows = std::min(kQueryBlock, T - r0);
    block(r0, rows, r0 + rows);  // first row, rows, keys seen
  }
}

// fn(b, g, worker) for every sequence b and KV group g (the query heads
// sharing one K/V head), split among the workers (each gemm inside runs
// whole on its worker): attention is many small GEMMs, which run better two
// at a time than each split in two. A group stays on one worker, so what its
// heads add to one dK/dV happens in the same order as serially, and the
// results are bitwise those of one thread.
template <class Fn>
void for_kv_groups(int64_t B, int64_t n_kv_heads, const Fn& fn) {
  const linalg::ScopedBlasThreads serial_blas(1);
  parallel_for(B * n_kv_heads, 1, [&](int64_t i0, int64_t i1, int w) {
    for (int64_t i = i0; i < i1; ++i) fn(i / n_kv_heads, i % n_kv_heads, w);
  });
}

}  // namespace

namespace {

// One KV group's view of attention: the `group` query heads that share K/V
// head g, stacked as the rows (t, j) of one matrix [T*group, hd] (query head
// g*group + j at token t), so that each product of the group is one GEMM of
// group times the rows of a per-head one. In q (and out, dq) the heads of a
// group are adjacent columns of a token's row: stacking copies group*hd
// contiguous values per token.
template <class S>
struct StackedGroup {
  int64_t T, dim, group, hd;

  void gather(S* stacked, const S* x, int64_t b, int64_t g) const {
    for (int64_t t = 0; t < T; ++t)
      std::copy_n(x + (b * T + t) * dim + g * group * hd, group * hd, stacked + t * group * hd);
  }
  void scatter(S* x, const S* stacked, int64_t b, int64_t g) const {
    for (int64_t t = 0; t < T; ++t)
      std::copy_n(stacked + t * group * hd, group * hd, x + (b * T + t) * dim + g * group * hd);
  }
};

}  // namespace

int64_t attention_scratch_size(int64_t T, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim) {
  const int64_t rows = T * (n_heads / n_kv_heads);  // a group's stacked rows
  return worker_count() * (rows * T + 3 * rows * head_dim);
}

template <class S>
void attention_forward(S* out, S* probs, S* scratch, const S* q, const S* k, const S* v, int64_t B, int64_t T,
                       int64_t n_heads, int64_t n_kv_heads, int64_t head_dim) {
  const int64_t dim = n_heads * head_dim, kv_dim = n_kv_heads * head_dim, group = n_heads / n_kv_heads;
  const int64_t rows_g = T * group, per_worker = rows_g * T + 3 * rows_g * head_dim;
  const S scale = S(1) / std::sqrt(static_cast<S>(head_dim));
  const StackedGroup<S> stack{T, dim, group, head_dim};
  for_kv_groups(B, n_kv_heads, [&](int64_t b, int64_t g, int worker) {
    S* qs = scratch + worker * per_worker;  // stacked q, then the stacked output
    S* os = qs + rows_g * head_dim;
    const S* kb = k + b * T * kv_dim + g * head_dim;
    const S* vb = v + b * T * kv_dim + g * head_dim;
    S* p = probs + (b * n_kv_heads + g) * rows_g * T;  // row (t, j): query head g*group + j at token t
    stack.gather(qs, q, b, g);
    for_query_blocks(T, [&](int64_t r0, int64_t rows, int64_t keys) {
      S* pb = p + r0 * group * T;
      gemm<S>(false, true, rows * group, keys, head_dim, scale, qs + r0 * group * head_dim, head_dim, kb, kv_dim, S(0),
              pb, T);
      for (int64_t r = 0; r < rows * group; ++r) {  // causal softmax, as ops::attention
        S* row = pb + r * T;
        const int64_t t = r0 + r / group;
        const S mx = row_max(row, t + 1);
        for (int64_t j = 0; j <= t; ++j) row[j] -= mx;
        exp_in_place(row, t + 1);
        const S inv = S(1) / lanes_sum<S, 16>(t + 1, [&](int64_t j) { return row[j]; });
        for (int64_t j = 0; j <= t; ++j) row[j] *= inv;
        std::fill(row + t + 1, row + T, S(0));
      }
      gemm<S>(false, false, rows * group, head_dim, keys, S(1), pb, T, vb, kv_dim, S(0), os + r0 * group * head_dim,
              head_dim);
    });
    stack.scatter(out, os, b, g);
  });
}

template <class S>
void attention_backward(S* dq, S* dk, S* dv, S* scratch, const S* dout, const S* probs, const S* q, const S* k,
                        const S* v, int64_t B, int64_t T, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim) {
  const int64_t dim = n_heads * head_dim, kv_dim = n_kv_heads * head_dim, group = n_heads / n_kv_heads;
  const int64_t rows_g = T * group, per_worker = rows_g * T + 3 * rows_g * head_dim;
  const S scale = S(1) / std::sqrt(static_cast<S>(head_dim));
  const StackedGroup<S> stack{T, dim, group, head_dim};
  std::fill_n(dk, B * T * kv_dim, S(0));
  std::fill_n(dv, B * T * kv_dim, S(0));
  for_kv_groups(B, n_kv_heads, [&](int64_t b, int64_t g, int worker) {
    S* qs = scratch + worker * per_worker;  // stacked q, dout, dq, then dP
    S* dos = qs + rows_g * head_dim;
    S* dqs = dos + rows_g * head_dim;
    S* dp = dqs + rows_g * head_dim;
    const int64_t k_off = b * T * kv_dim + g * head_dim;
    const S* p = probs + (b * n_kv_heads + g) * rows_g * T;
    stack.gather(qs, q, b, g);
    stack.gather(dos, dout, b, g);
    // dP = dOut V^T; dV += P^T dOut (the group's heads share V).
    for_query_blocks(T, [&](int64_t r0, int64_t rows, int64_t keys) {
      const int64_t r = r0 * group;
      gemm<S>(false, true, rows * group, keys, head_dim, S(1), dos + r * head_dim, head_dim, v + k_off, kv_dim, S(0),
              dp + r * T, T);
      gemm<S>(true, false, keys, head_dim, rows * group, S(1), p + r * T, T, dos + r * head_dim, head_dim, S(1),
              dv + k_off, kv_dim);
    });
    // Softmax backward: dS = P (dP - <dP, P>) per row; masked entries have P = 0.
    for (int64_t r = 0; r < rows_g; ++r) {
      const int64_t t = r / group;
      const S* pr = p + r * T;
      S* dr = dp + r * T;
      const double dot = dot_lanes(pr, dr, t + 1);
      for (int64_t j = 0; j <= t; ++j) dr[j] = pr[j] * (dr[j] - static_cast<S>(dot));
      std::fill(dr + t + 1, dr + T, S(0));
    }
    // scores = scale Q K^T:  dQ = scale dS K;  dK += scale dS^T Q.
    for_query_blocks(T, [&](int64_t r0, int64_t rows, int64_t keys) {
      const int64_t r = r0 * group;
      gemm<S>(false, false, rows * group, head_dim, keys, scale, dp + r * T, T, k + k_off, kv_dim, S(0),
              dqs + r * head_dim, head_dim);
      gemm<S>(true, false, keys, head_dim, rows * group, scale, dp + r * T, T, qs + r * head_dim, head_dim, S(1),
              dk + k_off, kv_dim);
    });
    stack.scatter(dq, dqs, b, g);
  });
}

// SwiGLU in blocks: exp(-gate) of a block at once (util/vector_exp), then
// the rest of the formula, which then vectorizes.
constexpr int64_t kSwigluBlock = 512;

template <class S, class Fn>
void for_swiglu_blocks(int64_t n, const S* gate, const Fn& fn) {
  parallel_for(n, 4096, [&](int64_t i0, int64_t i1, int) {
    S e[kSwigluBlock];
    for (int64_t b0 = i0; b0 < i1; b0 += kSwigluBlock) {
      const int64_t m = std::min(kSwigluBlock, i1 - b0);
      for (int64_t i = 0; i < m; ++i) e[i] = -gate[b0 + i];
      exp_in_place(e, m);
      fn(b0, m, e);  // e[i] = exp(-gate[b0 + i])
    }
  });
}

template <class S>
void swiglu_forward(S* h, const S* gate, const S* up, int64_t n) {
  for_swiglu_blocks(n, gate, [&](int64_t b0, int64_t m, const S* e) {
    for (int64_t i = 0; i < m; ++i) h[b0 + i] = gate[b0 + i] / (S(1) + e[i]) * up[b0 + i];  // as ops::swiglu
  });
}

template <class S>
void swiglu_backward(S* dgate, S* dup, const S* dh, const S* gate, const S* up, int64_t n) {
  for_swiglu_blocks(n, gate, [&](int64_t b0, int64_t m, const S* e) {
    for (int64_t k = 0; k < m; ++k) {
      const int64_t i = b0 + k;
      const S g = gate[i], sig = S(1) / (S(1) + e[k]);
      dup[i] = dh[i] * g * sig;
      dgate[i] = dh[i] * up[i] * sig * (S(1) + g * (S(1) - sig));  // silu'(g)
    }
  });
}

// fn(j0, m, e) over x[0..n) in blocks: e[i] = exp(x[j0 + i] - shift) in
// double (util/vector_exp), a block at a time so the exps vectorize.
template <class S, class Fn>
void for_exp_blocks(const S* x, int64_t n, double shift, const Fn& fn) {
  constexpr int64_t kBlock = 1024;
  double e[kBlock];
  for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const int64_t m = std::min(kBlock, n - j0);
    for (int64_t i = 0; i < m; ++i) e[i] = static_cast<double>(x[j0 + i]) - shift;
    exp_in_place(e, m);
    fn(j0, m, e);
  }
}

// log sum_j exp(row[j]) over j < V in double, shifted by the row's max: the
// student's and the teacher's alike (cross-entropy, distillation).
template <class S>
double log_sum_exp(const S* row, int64_t V) {
  const double mx = row_max(row, V);
  double sum = 0;
  for_exp_blocks(row, V, mx, [&](int64_t, int64_t m, const double* e) {
    for (int64_t i = 0; i < m; ++i) sum += e[i];  // in column order, as one loop would
  });
  return mx + std::log(sum);
}

template <class S>
double cross_entropy_forward(double* loss, double* lse, const S* logits, const int32_t* targets, int64_t N, int64_t V) {
  for_rows(N, [&](int64_t t) {
    const S* row = logits + t * V;
    lse[t] = log_sum_exp(row, V);
    loss[t] = targets[t] >= 0 ? lse[t] - static_cast<double>(row[targets[t]]) : 0.0;
  });
  double total = 0;  // in row order, whatever the threads
  for (int64_t t = 0; t < N; ++t)
    if (targets[t] >= 0) total += loss[t];
  return total;
}

template <class S>
void cross_entropy_backward(S* dlogits, const S* logits, const double* lse, const int32_t* targets, int64_t N,
                            int64_t V, double scale) {
  for_rows(N, [&](int64_t t) {
    S* d = dlogits + t * V;
    if (targets[t] < 0) {
      std::fill_n(d, V, S(0));
      return;
    }
    for_exp_blocks(logits + t * V, V, lse[t], [&](int64_t j0, int64_t m, const double* e) {
      for (int64_t i = 0; i < m; ++i) d[j0 + i] = static_cast<S>(scale * e[i]);
    });
    d[targets[t]] -= static_cast<S>(scale);
  });
}

template <class S>
double distill_forward(double* kl, double* teacher_lse, const S* logits, const double* lse, const S* teacher,
                       const int32_t* targets, int64_t N, int64_t V) {
  for_rows(N, [&](int64_t t) {
    kl[t] = teacher_lse[t] = 0;
    if (targets[t] < 0) return;
    const S* p = teacher + t * V;
    const S* q = logits + t * V;
    // log p_v = p_v - lse_p, with the student's log-sum-exp.
    teacher_lse[t] = log_sum_exp(p, V);
    double k = 0;
    for (int64_t j = 0; j < V; ++j) {
      const double lp = static_cast<double>(p[j]) - teacher_lse[t], lq = static_cast<double>(q[j]) - lse[t];
      k += std::exp(lp) * (lp - lq);
    }
    kl[t] = k;
  });
  double total = 0;  // in row order, whatever the threads
  for (int64_t t = 0; t < N; ++t) total += kl[t];
  return total;
}

template <class S>
void distill_backward(S* dlogits, const S* logits, const double* lse, const S* teacher, const double* teacher_lse,
                      const int32_t* targets, int64_t N, int64_t V, double scale) {
  for_rows(N, [&](int64_t t) {
    if (targets[t] < 0) return;
    const S* p = teacher + t * V;
    const S* q = logits + t * V;
    S* d = dlogits + t * V;
    for (int64_t j = 0; j < V; ++j)
      d[j] += static_cast<S>(scale * (std::exp(static_cast<double>(q[j]) - lse[t]) -
                                      std::exp(static_cast<double>(p[j]) - teacher_lse[t])));
  });
}

#define CTSCOPE_TRAIN_LAYERS(S)                                                                                      \
  template void embedding_forward<S>(S*, const int32_t*, const S*, int64_t, int64_t);                                \
  template void embedding_backward<S>(S*, const S*, const int32_t*, int64_t, int64_t);                               \
  template void rmsnorm_forward<S>(S*, S*, const S*, const S*, int64_t, int64_t, double);                            \
  template void rmsnorm_backward<S>(S*, S*, const S*, const S*, const S*, const S*, int64_t, int64_t);               \
  template void matmul_forward<S>(S*, const S*, const S*, int64_t, int64_t, int64_t);                                \
  template void matmul_backward<S>(S*, S*, const S*, const S*, const S*, int64_t, int64_t, int64_t, bool);           \
  template void factored_input_forward<S>(S*, const S*, const S*, int64_t, int64_t, int64_t);                     \
  template void factored_matmul_forward<S>(S*, const S*, const S*, const S*, const S*, int64_t, int64_t, int64_t,    \
                                          int64_t);                                                                  \
  template void factored_output_backward<S>(S*, const S*, const S*, int64_t, int64_t, int64_t, bool);               \
  template void factored_input_backward<S>(S*, const S*, const S*, int64_t, int64_t, int64_t, bool);                \
  template void offset_backward<S>(S*, const S*, const S*, int64_t, int64_t, int64_t);                              \
  template void factored_embedding_forward<S>(S*, S*, const int32_t*, const S*, const S*, const S*, int64_t, int64_t, \
                                             int64_t);                                                                \
  template void rope_forward<S>(S*, int64_t, int64_t, int64_t, int64_t, double, RopeLayout);                         \
  template void rope_backward<S>(S*, int64_t, int64_t, int64_t, int64_t, double, RopeLayout);                        \
  template void attention_forward<S>(S*, S*, S*, const S*, const S*, const S*, int64_t, int64_t, int64_t, int64_t,   \
                                     int64_t);                                                                       \
  template void attention_backward<S>(S*, S*, S*, S*, const S*, const S*, const S*, const S*, const S*, int64_t,     \
                                      int64_t, int64_t, int64_t, int64_t);                                           \
  template void swiglu_forward<S>(S*, const S*, const S*, int64_t);                                                  \
  template void swiglu_backward<S>(S*, S*, const S*, const S*, const S*, int64_t);                                   \
  template double cross_entropy_forward<S>(double*, double*, const S*, const int32_t*, int64_t, int64_t);           \
  template void cross_entropy_backward<S>(S*, const S*, const double*, const int32_t*, int64_t, int64_t, double);  \
  template double distill_forward<S>(double*, double*, const S*, const double*, const S*, const int32_t*, int64_t,  \
                                     int64_t);                                                                       \
  template void distill_backward<S>(S*, const S*, const double*, const S*, const double*, const int32_t*, int64_t,  \
                                    int64_t, double);
CTSCOPE_TRAIN_LAYERS(float)
CTSCOPE_TRAIN_LAYERS(double)
#undef CTSCOPE_TRAIN_LAYERS

}  // namespace ctscope::train
