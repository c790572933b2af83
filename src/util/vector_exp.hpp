// exp of many floats at once. Softmax rows and SwiGLU take an exp per element
// (at TinyLlama shapes about 200 million per training step), and glibc's
// scalar expf, which blocks vectorizing the loop around it, was a tenth of
// the step. This hands 16 (AVX-512) or 8 (AVX2) elements at a time to glibc's
// vector math library (libmvec: _ZGVeN16v_expf, _ZGVdN8v_expf), well kept and
// already on every glibc system, rather than a hand-written polynomial. Its
// results are within 2 ulps of the exact exp on AVX-512 and AVX2 here (glibc
// documents at most 4, which tests/test_vector_exp.cpp checks), against
// std::exp's 1, so not bit for bit those of std::exp. Every element goes
// through the same routine (the tail is padded), so equal inputs give equal
// outputs wherever they sit; other CPUs, and machines without AVX2, may
// round differently (the scalar std::exp there).
#pragma once
#include <cstdint>

namespace ctscope {

// x[i] = exp(x[i]) for i < n, on the widest path this CPU has.
void exp_in_place(float* x, int64_t n);
// The same in double (_ZGVeN8v_exp, _ZGVdN4v_exp): the cross-entropy's
// log-sum-exp over a vocabulary.
void exp_in_place(double* x, int64_t n);

// The same on a given path (tests, benchmarks); false, with x untouched,
// when this CPU or build lacks it.
enum class ExpPath { Avx512, Avx2, Scalar };
bool exp_in_place(float* x, int64_t n, ExpPath path);

}  // namespace ctscope
