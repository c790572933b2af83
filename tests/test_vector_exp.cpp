// util/vector_exp: every path this CPU has against exp in double, over the
// range a softmax or SwiGLU feeds it (underflow to 0 and overflow to inf
// included), at lengths that leave every tail size.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "util/vector_exp.hpp"

namespace ctscope {
namespace {

// Distance in units in the last place between two finite floats of one sign.
int64_t ulps(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  return std::abs(static_cast<int64_t>(ia) - ib);
}

TEST(VectorExp, EveryPathWithinFourUlpsOfTheExactExp) {
  std::vector<float> in;
  for (float v = -104.0f; v <= 89.0f; v += 0.0137f) in.push_back(v);
  for (const float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 88.7f, 88.8f, -87.3f, -103.9f, -200.0f, 100.0f})
    in.push_back(v);
  int paths = 0;
  for (const ExpPath path : {ExpPath::Avx512, ExpPath::Avx2, ExpPath::Scalar}) {
    std::vector<float> out = in;
    if (!exp_in_place(out.data(), static_cast<int64_t>(out.size()), path)) continue;
    ++paths;
    int64_t worst = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      const auto exact = static_cast<float>(std::exp(static_cast<double>(in[i])));
      if (std::isinf(exact) || exact == 0.0f || std::fpclassify(exact) == FP_SUBNORMAL) {
        // Overflow and underflow: the same class (a subnormal may flush to 0).
        EXPECT_TRUE(std::isinf(exact) ? std::isinf(out[i]) : out[i] < std::numeric_limits<float>::min()) << in[i];
        continue;
      }
      worst = std::max(worst, ulps(out[i], exact));
    }
    EXPECT_LE(worst, 4) << "path " << static_cast<int>(path);
  }
  EXPECT_GE(paths, 1);
}

// The double version (the cross-entropy's) against expl in long double.
TEST(VectorExp, DoubleWithinFourUlpsOfTheExactExp) {
  std::vector<double> in;
  for (double v = -700.0; v <= 700.0; v += 0.0371) in.push_back(v);
  for (int64_t n : {int64_t{1}, int64_t{3}, int64_t{7}, static_cast<int64_t>(in.size())}) {
    std::vector<double> out(in.begin(), in.begin() + n);
    exp_in_place(out.data(), n);
    int64_t worst = 0;
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      const auto exact = static_cast<double>(std::exp(static_cast<long double>(in[i])));
      int64_t a, b;
      std::memcpy(&a, &out[i], 8);
      std::memcpy(&b, &exact, 8);
      worst = std::max(worst, std::abs(a - b));
    }
    EXPECT_LE(worst, 4) << n;
  }
}

// Lengths 0 .. 40 cover every tail of 16 and 8 lanes; elements past n stay.
TEST(VectorExp, TailsAreComputedAndNothingPastTheEndMoves) {
  for (int64_t n = 0; n <= 40; ++n) {
    std::vector<float> x(static_cast<size_t>(n) + 3, 7.0f);
    for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = 0.1f * static_cast<float>(i) - 2.0f;
    const std::vector<float> in = x;
    exp_in_place(x.data(), n);
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      const double exact = std::exp(static_cast<double>(in[i]));
      EXPECT_NEAR(x[i], exact, 1e-6 * exact) << n << " " << i;
    }
    for (size_t i = static_cast<size_t>(n); i < x.size(); ++i) EXPECT_EQ(x[i], 7.0f) << n;
  }
}

}  // namespace
}  // namespace ctscope
