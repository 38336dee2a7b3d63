// Scalar special functions, written to stay finite and accurate at the extremes
// (|x| = 700, x = 1e-300) where the textbook formulas overflow or cancel.
#pragma once
#include <cmath>
#include <limits>

namespace svi {
namespace special {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// log(1 + exp(x))
inline double softplus(double x) {
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}
// 1 / (1 + exp(-x))
inline double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  double e = std::exp(x);
  return e / (1.0 + e);
}
// log(sigmoid(x)) = -softplus(-x)
inline double log_sigmoid(double x) { return -softplus(-x); }
// log(p / (1 - p))
inline double logit(double p) { return std::log(p) - std::log1p(-p); }

// digamma: recurrence up to x >= 10, then the asymptotic series; reflection for x < 0.
inline double digamma(double x) {
  if (std::isnan(x)) return x;
  if (x == -kInf) return kNaN;
  if (x == kInf) return kInf;
  if (x <= 0 && std::floor(x) == x) return kNaN;  // poles at 0, -1, -2, ...
  double r = 0;
  if (x < 0) {  // psi(1 - x) - psi(x) = pi cot(pi x)
    const double pi = 3.14159265358979323846;
    r = -pi / std::tan(pi * x);
    x = 1 - x;
  }
  while (x < 10) { r -= 1 / x; x += 1; }
  double f = 1 / (x * x);
  double t = f * (-1.0 / 12 + f * (1.0 / 120 + f * (-1.0 / 252 + f * (1.0 / 240 +
             f * (-1.0 / 132 + f * (691.0 / 32760 + f * (-1.0 / 12)))))));
  return r + std::log(x) - 0.5 / x + t;
}

// trigamma, same scheme (the derivative of digamma).
inline double trigamma(double x) {
  if (std::isnan(x)) return x;
  if (x <= 0 && std::floor(x) == x) return kInf;
  double r = 0;
  if (x < 0) {  // psi1(1 - x) + psi1(x) = pi^2 / sin^2(pi x)
    const double pi = 3.14159265358979323846;
    double s = std::sin(pi * x);
    return -trigamma(1 - x) + pi * pi / (s * s);
  }
  while (x < 10) { r += 1 / (x * x); x += 1; }
  double f = 1 / (x * x);
  double t = 1 / x + f / 2 + f / x * (1.0 / 6 + f * (-1.0 / 30 + f * (1.0 / 42 + f * (-1.0 / 30 +
             f * (5.0 / 66 + f * (-691.0 / 2730 + f * (7.0 / 6)))))));
  return r + t;
}

}  // namespace special
}  // namespace svi
