// Log-density building blocks that stay accurate at extreme parameters.
//
// The textbook forms (e.g. a log(b) + (a - 1) log(x) - b x - lgamma(a) for the gamma density)
// cancel catastrophically when the parameters are large: every term is ~1e9 and the answer ~1.
// Loader's saddle-point form writes the same densities as a small deviance term bd0() plus the
// Stirling remainder stirlerr(), neither of which cancels (C. Loader, "Fast and accurate
// computation of binomial probabilities", 2000). Everything here returns logs.
#pragma once
#include <cfloat>
#include <cmath>
#include "../special.hpp"

namespace svi {
namespace dens {

constexpr double kLog2Pi = 1.83787706640934548356;       // log(2 pi)
constexpr double kLogSqrt2Pi = 0.918938533204672741780;  // log(sqrt(2 pi))
constexpr double kLogPi = 1.14472988584940017414;
constexpr double kLog2 = 0.693147180559945309417;
constexpr double kPi = 3.14159265358979323846;
constexpr double kInf = special::kInf;

// The multivariate log-gamma log Gamma_D(a) = D (D - 1) / 4 log(pi) + sum_{j=1..D} lgamma(a + (1 - j) / 2)
// (Wishart and LKJ normalisers); *da, when given, receives its derivative in a.
inline double log_mvgamma(double a, int D, double* da = nullptr) {
  double v = 0.25 * D * (D - 1) * kLogPi, d = 0;
  for (int j = 1; j <= D; ++j) {
    v += std::lgamma(a + 0.5 * (1 - j));
    if (da) d += special::digamma(a + 0.5 * (1 - j));
  }
  if (da) *da = d;
  return v;
}

// Stirling remainder: lgamma(n + 1) - (n + 1/2) log(n) + n - log(sqrt(2 pi)).
// For n >= 10 its asymptotic series (8 terms: error < 1e-17 there); below, the definition.
inline double stirlerr(double n) {
  if (n >= 10) {
    double r = 1 / (n * n);
    return (1.0 / 12 - r * (1.0 / 360 - r * (1.0 / 1260 - r * (1.0 / 1680 - r * (1.0 / 1188 -
           r * (691.0 / 360360 - r * (1.0 / 156 - r * 3617.0 / 122400))))))) / n;
  }
  return std::lgamma(n + 1) - (n + 0.5) * std::log(n) + n - kLogSqrt2Pi;
}

// Deviance term x log(x / m) + m - x, summed as a series in v = (x - m) / (x + m) when x is
// near m (log(x/m) = 2 atanh(v)), where the direct form cancels.
inline double bd0(double x, double m) {
  if (!std::isfinite(x) || !std::isfinite(m) || m == 0) return special::kNaN;
  if (std::fabs(x - m) < 0.1 * (x + m)) {
    double v = (x - m) / (x + m), v2 = v * v;
    double s = (x - m) * v;
    if (std::fabs(s) < DBL_MIN) return s;
    double ej = 2 * x * v;
    for (int j = 1; j < 1000; ++j) {
      ej *= v2;
      double s1 = s + ej / (2 * j + 1);
      if (s1 == s) return s1;
      s = s1;
    }
    return s;
  }
  return x * std::log(x / m) + m - x;
}

// log of lambda^k exp(-lambda) / Gamma(k + 1), for real k >= 0 (the Poisson pmf, and with
// non-integer k the kernel of the gamma density).
inline double log_dpois(double k, double lambda) {
  if (k < 0) return -kInf;
  if (lambda == 0) return k == 0 ? 0.0 : -kInf;
  if (!std::isfinite(lambda)) return -kInf;
  if (k == 0) return -lambda;
  if (!std::isfinite(k)) return -kInf;
  if (k <= lambda * DBL_MIN || lambda < k * DBL_MIN)
    return -lambda + k * std::log(lambda) - std::lgamma(k + 1);
  return -stirlerr(k) - bd0(k, lambda) - 0.5 * (kLog2Pi + std::log(k));
}

// log of choose(n, x) p^x q^(n - x), q = 1 - p passed separately so it keeps its precision.
inline double log_dbinom(double x, double n, double p, double q) {
  if (x < 0 || x > n) return -kInf;
  if (p == 0) return x == 0 ? 0.0 : -kInf;
  if (q == 0) return x == n ? 0.0 : -kInf;
  if (x == 0) {
    if (n == 0) return 0.0;
    return p < 0.1 ? -bd0(n, n * q) - n * p : n * std::log(q);
  }
  if (x == n) return q < 0.1 ? -bd0(n, n * p) - n * q : n * std::log(p);
  double lc = stirlerr(n) - stirlerr(x) - stirlerr(n - x) - bd0(x, n * p) - bd0(n - x, n * q);
  double lf = kLog2Pi + std::log(x) + std::log1p(-x / n);
  return lc - 0.5 * lf;
}

// log Beta(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b), with the large arguments' Stirling
// parts combined analytically so nothing cancels.
inline double lbeta(double a, double b) {
  double p = std::fmin(a, b), q = std::fmax(a, b);
  if (p < 0) return special::kNaN;
  if (p == 0) return kInf;
  if (!std::isfinite(q)) return -kInf;
  double s = p + q;
  if (p >= 10) {
    double corr = stirlerr(p) + stirlerr(q) - stirlerr(s);
    return -0.5 * std::log(q) + kLogSqrt2Pi + corr + (p - 0.5) * std::log(p / s) +
           q * std::log1p(-p / s);
  }
  if (q >= 10) {
    double corr = stirlerr(q) - stirlerr(s);
    return std::lgamma(p) + corr + p - p * std::log(s) + (q - 0.5) * std::log1p(-p / s);
  }
  if (p < 1e-306) return std::lgamma(p) + (std::lgamma(q) - std::lgamma(s));
  return std::log(std::tgamma(p) * (std::tgamma(q) / std::tgamma(s)));
}

// log Gamma(x + 1/2) - log Gamma(x), by its asymptotic series for large x (where the two
// lgamma values cancel) and directly otherwise.
inline double lgamma_half_ratio(double x) {
  if (x < 30) return std::lgamma(x + 0.5) - std::lgamma(x);
  double r = 1 / (x * x);
  return 0.5 * std::log(x) + (-1.0 / 8 + r * (1.0 / 192 + r * (-1.0 / 640 + r * (17.0 / 14336 +
         r * (-31.0 / 18432))))) / x;
}

// lgamma(1 + a), accurate for tiny a (where forming 1 + a would round a away): the series
// -euler a + sum_k (-1)^k zeta(k) a^k / k.
inline double lgamma1p(double a) {
  if (std::fabs(a) >= 1e-3) return std::lgamma(1 + a);
  static const double zeta[] = {0, 0, 1.6449340668482264, 1.2020569031595943, 1.0823232337111382,
                                1.0369277551433699, 1.0173430619844491, 1.0083492773819228};
  double s = -0.57721566490153286 * a, ak = -a;  // ak = (-a)^k
  for (int k = 2; k <= 7; ++k) {
    ak *= -a;
    s += zeta[k] * ak / k;
  }
  return s;
}

inline bool is_int(double x) { return std::isfinite(x) && std::floor(x) == x; }

// log choose(n, k) for integer-valued n >= k >= 0.
inline double lchoose(double n, double k) {
  return -std::log(n + 1) - lbeta(n - k + 1, k + 1);
}

}  // namespace dens
}  // namespace svi
