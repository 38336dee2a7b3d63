// Implicit reparameterization for the standard gamma distribution.
//
// A draw z ~ Gamma(a, 1) is a fixed function of its uniform noise u = F(z; a), so holding u
// fixed, dz/da = -(dF/da)(z; a) / f(z; a). We return d log(z)/da, which stays finite when z
// itself underflows (tiny shapes), and draw in log space for the same reason.
//
// dF/da is the shape-derivative of the regularized lower incomplete gamma function P(a, z):
// below z = a + 1 from its power series, above from the continued fraction of Q = 1 - P,
// each differentiated term by term (forward mode). Both need O(sqrt(a)) terms near z = a, so
// for very large shapes we differentiate the Wilson-Hilferty normal approximation instead,
// whose error there is far below the Monte Carlo noise of any gradient estimate.
#pragma once
#include <cmath>
#include "../rng.hpp"
#include "../special.hpp"

namespace svi {
namespace dist {

// log of a Gamma(a, 1) draw. For a < 1, Gamma(a) = Gamma(a + 1) * U^(1/a) ("boosting"),
// taken in logs so the result is finite even when the draw is below the smallest double.
inline double log_std_gamma(Rng& r, double a) {
  if (a >= 1) return std::log(r.gamma(a));
  double u = r.uniform();
  return std::log(r.gamma(a + 1)) + std::log(u) / a;
}

// d log(z) / da for z ~ Gamma(a, 1), given lz = log(z), with the noise F(z; a) held fixed.
inline double dlog_std_gamma(double a, double lz) {
  const double z = std::exp(lz);
  if (a > 1e6) {
    // Wilson-Hilferty: z = a (1 - 1/(9a) + e / (3 sqrt(a)))^3 with e ~ N(0, 1).
    double w = std::exp((lz - std::log(a)) / 3);
    double e = (w - 1 + 1 / (9 * a)) * 3 * std::sqrt(a);
    double dw = 1 / (9 * a * a) - e / (6 * a * std::sqrt(a));
    return 1 / a + 3 * dw / w;
  }
  const int kMax = 100000;
  const double tol = 1e-16;
  if (z < a + 1) {
    // P(a, z) = z^a e^-z / Gamma(a + 1) * sum_n c_n, c_n = z^n Gamma(a + 1) / Gamma(a + n + 1);
    // dc_n/da = -c_n h_n with h_n = sum_{k <= n} 1 / (a + k). Then
    // dz/da = -(z / a) (S (log z - psi(a + 1)) - T), S = sum c_n, T = sum c_n h_n.
    double c = 1, h = 0, S = 1, T = 0;
    for (int n = 1; n < kMax; ++n) {
      c *= z / (a + n);
      h += 1 / (a + n);
      S += c;
      T += c * h;
      if (c < tol * S && c * h < tol * std::fabs(T) + 1e-300) break;
    }
    return -(S * (lz - special::digamma(a + 1)) - T) / a;
  }
  // Q(a, z) = z^a e^-z / Gamma(a) * CF, CF = 1 / (b0 - 1 (1 - a) / (b1 - 2 (2 - a) / (b2 - ...))),
  // b_i = z + 1 - a + 2 i; evaluated by the modified Lentz method carrying d/da alongside.
  // Then dz/da = z (CF (log z - psi(a)) + dCF/da).
  struct Dual { double v, d; };
  auto mul = [](Dual x, Dual y) { return Dual{x.v * y.v, x.d * y.v + x.v * y.d}; };
  auto inv = [](Dual x) { return Dual{1 / x.v, -x.d / (x.v * x.v)}; };
  auto add = [](Dual x, Dual y) { return Dual{x.v + y.v, x.d + y.d}; };
  const double tiny = 1e-300;
  Dual b{z + 1 - a, -1};
  Dual C{1 / tiny, 0};
  Dual D = inv(b);
  Dual H = D;
  for (int i = 1; i < kMax; ++i) {
    Dual an{-i * (i - a), double(i)};
    b = Dual{b.v + 2, b.d};
    D = add(mul(an, D), b);
    if (std::fabs(D.v) < tiny) D.v = tiny;
    C = add(b, mul(an, inv(C)));
    if (std::fabs(C.v) < tiny) C.v = tiny;
    D = inv(D);
    Dual del = mul(D, C);
    H = mul(H, del);
    if (std::fabs(del.v - 1) < tol && std::fabs(del.d) <= tol * std::fabs(H.d / H.v) + 1e-300) break;
  }
  return H.v * (lz - special::digamma(a)) + H.d;
}

}  // namespace dist
}  // namespace svi
