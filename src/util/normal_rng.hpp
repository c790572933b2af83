// Standard normal numbers by Box-Muller on mt19937_64 bits: the same numbers
// from every standard library (std::normal_distribution's algorithm is
// implementation-defined), so seeded bases and synthetic checkpoints are
// reproducible everywhere. Each pair of uniforms gives r cos(t), then r sin(t).
#pragma once
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>

namespace ctscope {

class NormalRng {
 public:
  explicit NormalRng(uint64_t seed) : bits_(seed) {}

  double operator()() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2.0 * std::log(uniform())), t = 2.0 * std::numbers::pi * uniform();
    spare_ = r * std::sin(t);
    has_spare_ = true;
    return r * std::cos(t);
  }
  // Raw bits, for shuffles and the like.
  uint64_t bits() { return bits_(); }

 private:
  double uniform() { return (static_cast<double>(bits_() >> 11) + 0.5) * 0x1p-53; }  // in (0, 1): log is finite
  std::mt19937_64 bits_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace ctscope
