#include "linalg/gram.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "linalg/blas_threads.hpp"
#include "linalg/gram_amx.hpp"
#include "linalg/gram_bf16dot.hpp"
#include "util/error.hpp"
#include "util/thread_pool.hpp"
#include "util/zero_pages.hpp"

namespace ctscope::linalg {

namespace {

constexpr size_t kPanelBytes = size_t{4} << 20;  // float panel: fits in L2+L3 share, big enough for SYRK
constexpr int64_t kFlushDepth = 4096;           // rows (or columns) summed in float before going to double
constexpr size_t kBf16PanelBytes = size_t{4} << 20;  // BF16 panel per AMX or dot-product call: deep enough (1024 rows at d = 2048) that G's float blocks, streamed from L3, are loaded and stored once per 32 k-steps

// Row i of a row-major buffer (rows x ld) left of its diagonal block of side
// blk, [0, i / blk * blk): zeros never read or written (G and Gf hold upper
// triangles), handed back to the system.
template <typename T>
void discard_left_of_blocks(T* buf, int64_t rows, int64_t ld, int64_t blk) {
  for (int64_t i = 0; i < rows; ++i)
    discard_zero_pages(buf + i * ld, static_cast<size_t>(i / blk * blk) * sizeof(T));
}

// Column sums, sum and sum of squares of a rows x cols float panel (leading
// dimension ld), in double. (The AMX path takes them while packing.)
void panel_stats(const float* P, int64_t rows, int64_t cols, int64_t ld, double* colsum, double& ss, double& sum) {
  constexpr int64_t kCols = 256;
  std::vector<double> s1(worker_count(), 0.0), s2(worker_count(), 0.0);
  parallel_for(cols, kCols, [&](int64_t c0, int64_t c1, int w) {
    for (int64_t j0 = c0; j0 < c1; j0 += kCols) {
      const int64_t j1 = std::min(c1, j0 + kCols);
      double acc[kCols] = {}, sq[kCols] = {};
      for (int64_t i = 0; i < rows; ++i) {
        const float* p = P + i * ld;
        for (int64_t j = j0; j < j1; ++j) {
          const double v = p[j];
          acc[j - j0] += v;
          sq[j - j0] += v * v;
        }
      }
      for (int64_t j = j0; j < j1; ++j) {
        colsum[j] += acc[j - j0];
        s1[w] += acc[j - j0];
        s2[w] += sq[j - j0];
      }
    }
  });
  for (int w = 0; w < worker_count(); ++w) {
    ss += s2[w];
    sum += s1[w];
  }
}

// G (double, upper triangle) += Gf (float, upper triangle, row stride ldf), or
// = on the first flush (so G needs no clearing); Gf's upper triangle is left
// zero, and so are the lower halves of its diagonal blocks of side `blk` (the
// AMX kernel writes whole 32 x 32 blocks).
void flush(std::vector<float>& Gf, int64_t ldf, std::vector<double>& G, int64_t m, bool first, int64_t blk) {
  // Rows i and m-1-i together: every slice gets the same share of the triangle.
  auto row = [&](int64_t i) {
    float* f = Gf.data() + i * ldf;
    for (int64_t j = i / blk * blk; j < i; ++j) f[j] = 0.f;
    for (int64_t j = i; j < m; ++j) {
      G[i * m + j] = first ? f[j] : G[i * m + j] + f[j];
      f[j] = 0.f;
    }
  };
  parallel_for((m + 1) / 2, 8, [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; ++p) {
      row(p);
      if (m - 1 - p != p) row(m - 1 - p);
    }
  });
}

// C (M x N, row-major, ldc) = A (M x K, lda) B (K x N, ldb), A's rows split
// between the workers, each one single-threaded SGEMM (see ssyrk_split).
void sgemm_rows(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                int64_t ldc) {
  parallel_for(M, 16, [&](int64_t i0, int64_t i1, int) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(i1 - i0), static_cast<int>(N),
                static_cast<int>(K), 1.f, A + i0 * lda, static_cast<int>(lda), B, static_cast<int>(ldb), 0.f,
                C + i0 * ldc, static_cast<int>(ldc));
  });
}

// G (upper triangle, row-major, ldg) += P^T P (trans: P is k x m) or P P^T
// (P is m x k), ld ldp: SSYRK's work split between ctscope's two workers, each
// calling single-threaded OpenBLAS. OpenBLAS's own threads would spin
// (sched_yield) for a long while after the call and slow the eigen sums that
// follow on our workers (measured: 6.8 s against 5.4 s). Worker 0 takes the
// triangle of the first c indices, worker 1 the block beside it and the
// triangle after it: equal areas at c = m / sqrt 2.
void ssyrk_split(bool trans, int64_t m, int64_t k, const float* P, int64_t ldp, float* G, int64_t ldg) {
  const int ki = static_cast<int>(k), lp = static_cast<int>(ldp), lg = static_cast<int>(ldg);
  // Where index i of the Gram starts in P: a column (trans) or a row.
  auto at = [&](int64_t i) { return trans ? P + i : P + i * ldp; };
  auto triangle = [&](int64_t i0, int64_t i1) {
    cblas_ssyrk(CblasRowMajor, CblasUpper, trans ? CblasTrans : CblasNoTrans, static_cast<int>(i1 - i0), ki, 1.f,
                at(i0), lp, 1.f, G + i0 * ldg + i0, lg);
  };
  auto rectangle = [&](int64_t i0, int64_t i1) {  // [i0, i1) x [i1, m)
    cblas_sgemm(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, trans ? CblasNoTrans : CblasTrans,
                static_cast<int>(i1 - i0), static_cast<int>(m - i1), ki, 1.f, at(i0), lp, at(i1), lp, 1.f,
                G + i0 * ldg + i1, lg);
  };
  const int64_t c = std::llround(static_cast<double>(m) / std::sqrt(2.0)) / 16 * 16;
  if (worker_count() < 2 || c == 0 || c >= m) return triangle(0, m);
  parallel_for(2, 1, [&](int64_t w0, int64_t w1, int) {
    for (int64_t w = w0; w < w1; ++w) {
      if (w == 0) {
        triangle(0, c);
      } else {
        rectangle(0, c);
        triangle(c, m);
      }
    }
  });
}

// The Gram kernels, fastest first; BF16 data takes the first the CPU runs
// (and the switches allow), everything else SSYRK on float.
enum class Kernel {
  amx,         // BF16 as stored, AMX tiles (gram_amx); off with CTSCOPE_NO_AMX=1
  avx512bf16,  // BF16 as stored, AVX-512 BF16 dot products (gram_bf16dot): AMD by default, CTSCOPE_AVX512BF16=1|0 forces
  ssyrk,       // converted to float, OpenBLAS SSYRK: the portable path
};

// The kernel of one pass and the float accumulator it fills: panels add into
// Gf in float, and every kFlushDepth rows (or columns) Gf goes into G in double.
struct Accumulator {
  Kernel kernel = Kernel::ssyrk;
  int64_t ldf = 0, blk = 1;  // Gf's row stride; side of the blocks the kernel writes whole
  int64_t ldy = 0;           // row stride of a float Y panel (AMX writes whole 16-column tiles)
  amx::Scratch* scratch = nullptr;
  bf16dot::Scratch* dot_scratch = nullptr;
  const amx::ProjectionTiles* tiles = nullptr;
  const bf16dot::Projection* dot_projection = nullptr;
  int64_t pending = 0;
  bool first_flush = true;

  bool amx() const { return kernel == Kernel::amx; }
  bool reads_bf16() const { return kernel != Kernel::ssyrk; }
  // A float copy of each panel: for SSYRK and SGEMM's Y = P Q (the BF16 kernels project BF16 as stored).
  bool float_panel() const { return kernel == Kernel::ssyrk; }

  // After a panel of `count` rows (or columns); `last`: the pass is complete.
  void panel_done(int64_t count, bool last, GramPass& g) {
    pending += count;
    if (pending + count > kFlushDepth || last) {
      flush(g.Gf, ldf, g.G, g.m, first_flush, blk);
      first_flush = false;
      pending = 0;
    }
  }
};

// Row panels P (rows x d): G += P^T P, Y = P Q and Y^T Y += Y^T Y in double.
void row_panel_pass(const MatrixView& W, const float* Qall, int kq, Accumulator& acc, GramPass& g) {
  const int64_t n = W.n, d = W.d;
  const auto* base = static_cast<const uint8_t*>(W.data);
  const auto* bf16 = static_cast<const uint16_t*>(W.data);
  int64_t rb = std::clamp<int64_t>(static_cast<int64_t>(kPanelBytes / 4) / d, 16, 1024);
  if (acc.reads_bf16())
    rb = std::clamp<int64_t>(static_cast<int64_t>(kBf16PanelBytes / 2) / d / 32 * 32, 32, kFlushDepth);
  std::vector<float> P(acc.float_panel() ? static_cast<size_t>(std::min(rb, n) * d) : 0),
      Yf(static_cast<size_t>(std::min(rb, n) * acc.ldy));
  std::vector<double> Yd(static_cast<size_t>(std::min(rb, n)) * kq);
  for (int64_t r0 = 0; r0 < n; r0 += rb) {
    const int64_t rows = std::min(rb, n - r0);
    if (acc.float_panel())
      parallel_for(rows, 16, [&](int64_t i0, int64_t i1, int) {
        convert_to_f32(W.dtype, base + elem_offset_bytes(W.dtype, (r0 + i0) * d), static_cast<size_t>((i1 - i0) * d),
                       P.data() + i0 * d);
      });
    if (acc.reads_bf16()) {
      PanelStats st{g.colsum.data()};
      if (acc.amx())
        amx::gram_tn(bf16 + r0 * d, rows, d, d, g.Gf.data(), acc.ldf, *acc.scratch, st);
      else
        bf16dot::gram_tn(bf16 + r0 * d, rows, d, d, g.Gf.data(), acc.ldf, *acc.dot_scratch, st);
      g.ss += st.ss;
      g.sum += st.sum;
    } else {
      if (g.scale != 1) cblas_sscal(static_cast<int>(rows * d), static_cast<float>(g.scale), P.data(), 1);
      panel_stats(P.data(), rows, d, d, g.colsum.data(), g.ss, g.sum);
      ssyrk_split(true, d, rows, P.data(), d, g.Gf.data(), d);
    }
    if (!std::isfinite(g.ss)) {
      g.finite = false;
      return;
    }
    g.flops += static_cast<double>(d) * static_cast<double>(d + 1) * static_cast<double>(rows);
    if (kq > 0) {  // Y = P Q in float (a sum over d), Y^T Y in double
      if (acc.amx())
        amx::project(bf16 + r0 * d, rows, d, d, *acc.tiles, 0, Yf.data(), acc.ldy);
      else if (acc.reads_bf16())
        bf16dot::project(bf16 + r0 * d, rows, d, d, *acc.dot_projection, 0, Yf.data(), acc.ldy);
      else
        sgemm_rows(rows, kq, d, P.data(), d, Qall, kq, Yf.data(), acc.ldy);
      for (int64_t i = 0; i < rows; ++i) std::copy_n(Yf.data() + i * acc.ldy, kq, Yd.data() + i * kq);
      cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, kq, static_cast<int>(rows), 1.0, Yd.data(), kq, 1.0,
                  g.YtY.data(), kq);
      g.flops += 2.0 * static_cast<double>(rows) * static_cast<double>(d) * kq + static_cast<double>(rows) * kq * kq;
    }
    acc.panel_done(rows, r0 + rows == n, g);
  }
}

// Column panels P (all n rows, cb columns): G += P P^T, Y += P Qall[cols];
// then Y^T Y in double.
void column_panel_pass(const MatrixView& W, const float* Qall, int kq, Accumulator& acc, GramPass& g) {
  const int64_t n = W.n, d = W.d;
  const auto* base = static_cast<const uint8_t*>(W.data);
  const auto* bf16 = static_cast<const uint16_t*>(W.data);
  const auto& tr = traits(W.dtype);
  int64_t cb = std::clamp<int64_t>(static_cast<int64_t>(kPanelBytes / 4) / n, 64, 4096);
  if (acc.reads_bf16())
    cb = std::clamp<int64_t>(static_cast<int64_t>(kBf16PanelBytes / 2) / n / 32 * 32, 32, kFlushDepth);
  cb = std::max<int64_t>(tr.block_elems, cb / tr.block_elems * tr.block_elems);
  cb = std::min(cb, d);
  std::vector<float> P(acc.float_panel() ? static_cast<size_t>(n * cb) : 0), Yf;
  if (kq > 0) {
    g.Y.assign(static_cast<size_t>(n * kq), 0.0);
    Yf.resize(static_cast<size_t>(n * acc.ldy));
  }
  for (int64_t j0 = 0; j0 < d; j0 += cb) {
    const int64_t cols = std::min(cb, d - j0);
    if (acc.float_panel())
      parallel_for(n, 16, [&](int64_t i0, int64_t i1, int) {
        for (int64_t i = i0; i < i1; ++i)
          convert_to_f32(W.dtype, base + elem_offset_bytes(W.dtype, i * d + j0), static_cast<size_t>(cols),
                         P.data() + i * cols);
      });
    if (acc.reads_bf16()) {
      PanelStats st{g.colsum.data() + j0};
      if (acc.amx())
        amx::gram_nt(bf16 + j0, n, cols, d, g.Gf.data(), acc.ldf, *acc.scratch, st);
      else
        bf16dot::gram_nt(bf16 + j0, n, cols, d, g.Gf.data(), acc.ldf, *acc.dot_scratch, st);
      g.ss += st.ss;
      g.sum += st.sum;
    } else {
      if (g.scale != 1) cblas_sscal(static_cast<int>(n * cols), static_cast<float>(g.scale), P.data(), 1);
      panel_stats(P.data(), n, cols, cols, g.colsum.data() + j0, g.ss, g.sum);
      ssyrk_split(false, n, cols, P.data(), cols, g.Gf.data(), n);
    }
    if (!std::isfinite(g.ss)) {
      g.finite = false;
      return;
    }
    g.flops += static_cast<double>(n) * static_cast<double>(n + 1) * static_cast<double>(cols);
    if (kq > 0) {
      if (acc.amx())
        amx::project(bf16 + j0, n, cols, d, *acc.tiles, j0, Yf.data(), acc.ldy);
      else if (acc.reads_bf16())
        bf16dot::project(bf16 + j0, n, cols, d, *acc.dot_projection, j0, Yf.data(), acc.ldy);
      else
        sgemm_rows(n, kq, cols, P.data(), cols, Qall + j0 * kq, kq, Yf.data(), acc.ldy);
      parallel_for(n, 64, [&](int64_t i0, int64_t i1, int) {
        for (int64_t i = i0; i < i1; ++i)
          for (int c = 0; c < kq; ++c) g.Y[static_cast<size_t>(i * kq + c)] += Yf[static_cast<size_t>(i * acc.ldy + c)];
      });
      g.flops += 2.0 * static_cast<double>(n) * kq * static_cast<double>(cols);
    }
    acc.panel_done(cols, j0 + cols == d, g);
  }
  if (kq > 0) {
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, kq, static_cast<int>(n), 1.0, g.Y.data(), kq, 0.0, g.YtY.data(), kq);
    g.flops += static_cast<double>(n) * kq * kq;
  }
}

// The kernel for BF16 as stored: the fastest the CPU runs and the switches allow.
Kernel bf16_kernel() {
  if (amx::available()) return Kernel::amx;
  if (bf16dot::available()) return Kernel::avx512bf16;
  return Kernel::ssyrk;
}

// (The BF16 kernels read BF16 as uint16_t, unscaled: data at an odd address -
// safetensors aligns nothing - and a scaled pass take the converting path.)
Kernel gram_kernel(const MatrixView& W, double scale) {
  if (W.dtype != DType::BF16 || reinterpret_cast<uintptr_t>(W.data) % 2 != 0 || scale != 1) return Kernel::ssyrk;
  return bf16_kernel();
}

// The power of two that brings a sum of squares outside [kGramSsMin,
// kGramSsMax) to [1/4, 4), or 1 (also for 0: a constant matrix stays one).
double gram_scale(double ss) {
  if (!(ss > 0) || (ss >= kGramSsMin && ss < kGramSsMax)) return 1.0;
  return std::ldexp(1.0, -std::ilogb(ss) / 2);
}

// One pass over W at g.scale.
void one_pass(const MatrixView& W, bool row_gram, const float* Qall, int kq, GramPass& g) {
  g.row_gram = row_gram;
  g.ss = g.sum = g.flops = 0;
  g.finite = true;
  g.Y.clear();
  g.YtY.assign(static_cast<size_t>(kq) * kq, 0.0);
  g.m = row_gram ? W.d : W.n;
  const int64_t m = g.m;
  // BF16 goes to AMX or the dot products as stored (exact products, FP32 sums
  // like SSYRK); other dtypes are converted to float for SSYRK, never rounded to BF16.
  Accumulator acc;
  acc.kernel = gram_kernel(W, g.scale);
  // Every kernel runs on our workers (SSYRK split by ssyrk_split), which
  // OpenBLAS's spinning threads would slow.
  const ScopedBlasThreads blas_threads(1);
  acc.ldf = acc.amx() ? amx::padded(m) : m;
  acc.blk = acc.amx() ? 32 : acc.kernel == Kernel::avx512bf16 ? bf16dot::kBlock : 1;
  // G is written by the first flush, so it needs no clearing; Gf is all zero
  // after every completed pass (the flush clears what the kernels wrote, and
  // padding only ever adds zero products), whatever its row stride was. So
  // both only grow: a model's matrices alternate between sides (2048, 256,
  // 2048 ... in TinyLlama), and clearing 48 MB and handing its zero pages back
  // at every change cost 10% of the analysis (page faults, and TLB shootdowns
  // to the other core for each madvise). Neither lower triangle is touched
  // after growth: its pages go back (half of ~200 MB at m = 4096).
  if (g.G.size() < static_cast<size_t>(m * m)) {
    g.G.resize(static_cast<size_t>(m * m));
    discard_left_of_blocks(g.G.data(), m, m, 1);
  }
  g.colsum.assign(static_cast<size_t>(W.d), 0.0);
  if (!g.gf_clean) g.Gf.clear();
  if (g.Gf.size() < static_cast<size_t>(acc.ldf * acc.ldf)) {
    g.Gf.assign(static_cast<size_t>(acc.ldf * acc.ldf), 0.f);
    discard_left_of_blocks(g.Gf.data(), acc.ldf, acc.ldf, acc.blk);
  }
  g.gf_clean = false;
  static thread_local amx::Scratch scratch;
  static thread_local amx::ProjectionTiles tiles;
  static thread_local bf16dot::Scratch dot_scratch;
  static thread_local bf16dot::Projection dot_projection;
  if (acc.amx() && kq > 0) amx::pack_projection(Qall, W.d, kq, tiles);
  if (acc.kernel == Kernel::avx512bf16 && kq > 0) bf16dot::pack_projection(Qall, W.d, kq, dot_projection);
  acc.scratch = &scratch;
  acc.dot_scratch = &dot_scratch;
  acc.tiles = &tiles;
  acc.dot_projection = &dot_projection;
  acc.ldy = kq == 0 ? 0 : acc.amx() ? tiles.ycols() : acc.reads_bf16() ? dot_projection.ycols() : kq;

  if (row_gram)
    row_panel_pass(W, Qall, kq, acc, g);
  else
    column_panel_pass(W, Qall, kq, acc, g);
  if (g.finite) g.gf_clean = true;
}

}  // namespace

void gram_pass(const MatrixView& W, bool row_gram, const float* Qall, int kq, GramPass& g) {
  check_matrix_view(W);
  g.scale = 1;
  one_pass(W, row_gram, Qall, kq, g);
  // The first pass's SS is exact enough to choose from (double, from the float
  // values); only a matrix outside the range pays for a second read.
  if (!g.finite) return;
  g.scale = gram_scale(g.ss);
  if (g.scale != 1) one_pass(W, row_gram, Qall, kq, g);
}

std::string bf16_gram_kernel() {
  switch (bf16_kernel()) {
    case Kernel::amx: return "amx";
    case Kernel::avx512bf16: return "avx512bf16";
    case Kernel::ssyrk: break;
  }
  return "ssyrk";
}

GramPass gram_pass(const MatrixView& W, bool row_gram) {
  GramPass g;
  gram_pass(W, row_gram, nullptr, 0, g);
  return g;
}

}  // namespace ctscope::linalg
