// Univariate continuous distributions: log-density (value and gradient) and reparameterized
// sampling, one struct each (see common.hpp for what the fields mean). Log-densities are
// written in forms that match R's d* functions to the last few bits, including at extreme
// parameters.
#pragma once
#include <cfloat>
#include <cmath>
#include "../special.hpp"
#include "common.hpp"
#include "density.hpp"
#include "gamma_grad.hpp"

namespace svi {
namespace dist {

using namespace dens;

// log1p(z^2) without overflow for huge |z|.
inline double log1p_sq(double z) {
  double a = std::fabs(z);
  return a > 1e150 ? 2 * std::log(a) : std::log1p(z * z);
}
// z / (1 + z^2) and (z^2 - 1) / (z^2 + 1), safe for huge |z|.
inline double z_over_1pz2(double z) { return std::fabs(z) > 1e150 ? 1 / z : z / (1 + z * z); }
inline double zm1_over_zp1(double z) {
  return std::fabs(z) > 1e150 ? 1.0 : (z * z - 1) / (z * z + 1);
}
inline double sgn(double v) { return (v > 0) - (v < 0); }

struct Normal {
  static constexpr const char* dist = "dist_normal()";
  static constexpr const char* lp_name = "log_prob(dist_normal)";
  static constexpr const char* sample_name = "sample(dist_normal)";
  static constexpr int P = 2;
  static constexpr const char* args[P] = {"mean", "sd"};
  static const char* check(const double* p, int& j) {
    if (const char* r = finite(p[0])) { j = 0; return r; }
    if (const char* r = positive(p[1])) { j = 1; return r; }
    return nullptr;
  }
  static double lp(double x, const double* p) {
    if (!std::isfinite(x)) return -kInf;
    double z = (x - p[0]) / p[1];
    return -(kLogSqrt2Pi + 0.5 * z * z + std::log(p[1]));
  }
  // lp() with log(sd) computed once for a scalar sd (the same arithmetic, so the same bits)
  static void lp_prepare(const double* p, double* cache) { cache[0] = std::log(p[1]); }
  static double lp_fixed(double x, const double* p, const double* cache) {
    if (!std::isfinite(x)) return -kInf;
    double z = (x - p[0]) / p[1];
    return -(kLogSqrt2Pi + 0.5 * z * z + cache[0]);
  }
  static void dlp(double x, const double* p, double* g) {
    double z = (x - p[0]) / p[1];
    double zs = z / p[1];   // -z / sd and z / sd, one division
    g[0] = -zs; g[1] = zs; g[2] = (z * z - 1) / p[1];
  }
  static constexpr int NOISE = 1;
  static constexpr bool REPARAM = true;
  static double draw(Rng& r, const double* p, double* e) {
    e[0] = r.normal();
    return p[0] + p[1] * e[0];
  }
  static void dz(const double*, const double* e, double, double* g) { g[0] = 1; g[1] = e[0]; }
};

struct LogNormal {
  static constexpr const char* dist = "dist_lognormal()";
  static constexpr const char* lp_name = "log_prob(dist_lognormal)";
  static constexpr const char* sample_name = "sample(dist_lognormal)";
  static constexpr int P = 2;
  static constexpr const char* args[P] = {"meanlog", "sdlog"};
  static const char* check(const double* p, int& j) {
    if (const char* r = finite(p[0])) { j = 0; return r; }
    if (const char* r = positive(p[1])) { j = 1; return r; }
    return nullptr;
  }
  static double lp(double x, const double* p) {
    if (!(x > 0) || !std::isfinite(x)) return -kInf;
    double y = (std::log(x) - p[0]) / p[1];
    return -(kLogSqrt2Pi + 0.5 * y * y + std::log(x) + std::log(p[1]));
  }
  static void dlp(double x, const double* p, double* g) {
    double y = (std::log(x) - p[0]) / p[1];
    g[0] = -(1 + y / p[1]) / x; g[1] = y / p[1]; g[2] = (y * y - 1) / p[1];
  }
  static constexpr int NOISE = 1;
  static constexpr bool REPARAM = true;
  static double draw(Rng& r, const double* p, double* e) {
    e[0] = r.normal();
    return std::exp(p[0] + p[1] * e[0]);
  }
  static void dz(const double*, const double* e, double z, double* g) { g[0] = z; g[1] = z * e[0]; }
};

struct HalfNormal {
  static constexpr const char* dist = "dist_half_normal()";
  static constexpr const char* lp_name = "log_prob(dist_half_normal)";
  static constexpr const char* sample_name = "sample(dist_half_normal)";
  static constexpr int P = 1;
  static constexpr const char* args[P] = {"scale"};
  static const char* check(const double* p, int& j) {
    j = 0;
    return positive(p[0]);
  }
  static double lp(double x, const double* p) {
    if (!(x >= 0) || !std::isfinite(x)) return -kInf;
    double z = x / p[0];
    return kLog2 - (kLogSqrt2Pi + 0.5 * z * z + std::log(p[0]));
  }
  static void dlp(double x, const double* p, double* g) {
    double z = x / p[0];
    g[0] = -z / p[0]; g[1] = (z * z - 1) / p[0];
  }
  static constexpr int NOISE = 1;
  static constexpr bool REPARAM = true;
  static double draw(Rng& r, const double* p, double* e) {
    e[0] = std::fabs(r.normal());
    return p[0] * e[0];
  }
  static void dz(const double*, const double* e, double, double* g) { g[0] = e[0]; }
};

struct Cauchy {
  static constexpr const char* dist = "dist_cauchy()";
  static constexpr const char* lp_name = "log_prob(dist_cauchy)";
  static constexpr const char* sample_name = "sample(dist_cauchy)";
  static constexpr int P = 2;
  static constexpr const char* args[P] = {"location", "scale"};
  static const char* check(const double* p, int& j) {
    if (const char* r = finite(p[0])) { j = 0; return r; }
    if (const char* r = positive(p[1])) { j = 1; return r; }
    return nullptr;
  }
  static double lp(double x, const double* p) {
    if (!std::isfinite(x)) return -kInf;
    double z = (x - p[0]) / p[1];
    return -(kLogPi + std::log(p[1]) + log1p_sq(z));
  }
  static void dlp(double x, const double* p, double* g) {
    double z = (x - p[0]) / p[1];
    g[0] = -2 * z_over_1pz2(z) / p[1]; g[1] = -g[0]; g[2] = zm1_over_zp1(z) / p[1];
  }
  static constexpr int NOISE = 1;
  static constexpr bool REPARAM = true;
  static double draw(Rng& r, const double* p, double* e) {
    e[0] = std::tan(kPi * r.uniform());  // standard Cauchy by inversion
    return p[0] + p[1] * e[0];
  }
  static void dz(const double*, const double* e, double, double* g) { g[0] = 1; g[1] = e[0]; }
};

struct HalfCauchy {
  static constexpr const char* dist = "dist_half_cauchy()";
  static constexpr const char* lp_name = "log_prob(dist_half_cauchy)";
  static constexpr const char* sample_name = "sample(dist_half_cauchy)";
  static constexpr int P = 1;
  static constexpr const char* args[P] = {"scale"};
  static const char* check(const double* p, int& j) {
    j = 0;
    return positive(p[0]);
  }
  static double lp(double x, const double* p) {
    if (!(x >= 0) || !std::isfinite(x)) return -kInf;
    return kLog2 - (kLogPi + std::log(p[0]) + log1p_sq(x / p[0]));
  }
  static void dlp(double x, const double* p, double* g) {
    double z = x / p[0];
    g[0] = -2 * z_over_1pz2(z) / p[0]; g[1] = zm1_over_zp1(z) / p[0];
  }
  static constexpr int NOISE = 1;
  static constexpr bool REPARAM = true;
  static double draw(Rng& r, const double* p, double* e) {
    e[0] = std::tan(0.5 * kPi * r.uniform());
    return p[0] * e[0];
  }
  static void dz(const double*, const double* e, double, double* g) { g[0] = e[0]; }
};

struct StudentT {
  static constexpr const char* dist = "dist_student_t()";
  static constexpr const char* lp_name = "log_prob(dist_student_t)";
  static constexpr const char* sample_name = "sample(dist_student_t)";
  static constexpr int P = 3;
  static constexpr const char* args[P] = {"df", "location", "scale"};
  static const char* check(const double* p, int& j) {
    if (const char* r = positive(p[0])) { j = 0; return r; }
    if (const char* r = finite(p[1])) { j = 1; return r; }
    if (const char* r = positive(p[2])) { j = 2; return r; }
    return nullptr;
  }
  // log1p(z^2 / df) without overflow
  static double l1p(double z, double nu) {
    double w = z * z / nu;
    return std::isfinite(w) ? std::log1p(w) : 2 * std::log(std::fabs(z)) - std::log(nu);
  }
  static double lp(double x, const double* p) {
    if (!std::isfinite(x)) return -kInf;
    double nu = p[0], z = (x - p[1]) / p[2];
    return lgamma_half_ratio(nu / 2) - 0.5 * (std::log(nu) + kLogPi) - std::log(p[2]) -
           0.5 * (nu + 1) * l1p(z, nu);
  }
  static void dlp(double x, const double* p, double* g) {
    double nu = p[0], s = p[2], z = (x - p[1]) / s;
    double z2 = z * z;
    double frac = std::isfinite(z2) ? z2 / (nu + z2) : 1.0;  // z^2 / (nu + z^2)
    g[0] = -(nu + 1) * (std::isfinite(z2) ? z / (nu + z2) : 1 / z) / s;
    g[1] = 0.5 * (special::digamma((nu + 1) / 2) - special::digamma(nu / 2)) - 0.5 / nu -
           0.5 * l1p(z, nu) + 0.5 * (nu + 1) * frac / nu;
    g[2] = -g[0];
    g[3] = (-1 + (nu + 1) * frac) / s;
  }
  // T = e / sqrt(G / df) with G ~ chi^2(df) = 2 Gamma(df / 2); noise: T and log Gamma draw.
  static constexpr int NOISE = 2;
  static constexpr bool REPARAM = true;
  static double draw(Rng& r, const double* p, double* e) {
    double nu = p[0];
    double eps = r.normal();
    double lg = log_std_gamma(r, nu / 2);
    e[0] = eps * std::exp(0.5 * (std::log(nu) - kLog2 - lg));
    e[1] = lg;
    return p[1] + p[2] * e[0];
  }
  static void dz(const double* p, const double* e, double, double* g) {
    double nu = p[0];
    g[0] = p[2] * e[0] * (0.5 / nu - 0.25 * dlog_std_gamma(nu / 2, e[1]));
    g[1] = 1; g[2] = e[0];
  }
};

struct Laplace {
  static constexpr const char* dist = "dist_laplace()";
  static constexpr const char* lp_name = "log_prob(dist_laplace)";
  static constexpr const char* sample_name = "sample(dist_laplace)";
  static constexpr int P = 2;
  static constexpr const char* args[P] = {"location", "scale"};
  static const char* check(const double* p, int& j) {
    if (const char* r = finite(p[0])) { j = 0; return r; }
    if (const char* r = positive(p[1])) { j = 1; return r; }
    return nullptr;
  }
  static double lp(double x, const double* p) {
    if (!std::isfinite(x)) return -kInf;
    return -(kLog2 + std::log(p[1])) - std::fabs(x - p[0]) / p[1];
  }
  static void dlp(double x, const double* p, double* g) {
    double d = x - p[0], s = p[1];
    g[0] = -sgn(d) / s; g[1] = sgn(d) / s; g[2] = -1 / s + std::fabs(d) / (s * s);
  }
  static constexpr int NOISE = 1;
  static constexpr bool REPARAM = true;
  static double draw(Rng& r, const double* p, double* e) {
    double u = r.uniform() - 0.5;  // standard Laplace by inversion
    e[0] = -sgn(u) * std::log1p(-2 * std::fabs(u));
    return p[0] + p[1] * e[0];
  }
  static void dz(const double*, const double* e, double, double* g) { g[0] = 1; g[1] = e[0]; }
};

struct Exponential {
  static constexpr const char* dist = "dist_exponential()";
  static constexpr const char* lp_name = "log_prob(dist_exponential)";
  static constexpr const char* sample_name = "sample(dist_exponential)";
  static constexpr int P = 1;
  static constexpr const char* args[P] = {"rate"};
  static const char* check(const double* p, int& j) {
    j = 0;
    return positive(p[0]);
  }
  static double lp(double x, const double* p) {
    if (!(x >= 0) || !std::isfinite(x)) return -kInf;
    return std::log(p[0]) - p[0] * x;
  }
  static void dlp(double x, const double* p, double* g) { g[0] = -p[0]; g[1] = 1 / p[0] - x; }
  static constexpr int NOISE = 1;
  static constexpr bool REPARAM = true;
  static double draw(Rng& r, const double* p, double* e) {
    e[0] = -std::log(r.uniform());
    return e[0] / p[0];
  }
  static void dz(const double* p, const double*, double z, double* g) { g[0] = -z / p[0]; }
};

struct Gamma {
  static constexpr const char* dist = "dist_gamma()";
  static constexpr const char* lp_name = "log_prob(dist_gamma)";
  static constexpr const char* sample_name = "sample(dist_gamma)";
  static constexpr int P = 2;
  static constexpr const char* args[P] = {"shape", "rate"};
  static const char* check(const double* p, int& j) {
    if (const char* r = positive(p[0])) { j = 0; return r; }
    if (const char* r = positive(p[1])) { j = 1; return r; }
    return nullptr;
  }
  // For a >= 1, b dpois(a - 1; b x): no cancellation at large a. Below, the direct form with
  // lgamma(a) = lgamma(1 + a) - log(a), every term small when a and x are.
  static double lp(double x, const double* p) {
    double a = p[0], b = p[1];
    if (!(x >= 0) || !std::isfinite(x)) return -kInf;
    if (x == 0) return a < 1 ? kInf : (a == 1 ? std::log(b) : -kInf);
    if (a < 1) {
      double r = a / x;
      double lr = (std::isfinite(r) && r > 0) ? std::log(r) : std::log(a) - std::log(x);
      return a * (std::log(b) + std::log(x)) + lr - b * x - lgamma1p(a);
    }
    return log_dpois(a - 1, b * x) + std::log(b);
  }
  static void dlp(double x, const double* p, double* g) {
    double a = p[0], b = p[1];
    g[0] = (a - 1) / x - b;
    g[1] = std::log(b) + std::log(x) - special::digamma(a);
    g[2] = a / b - x;
  }
  static constexpr int NOISE = 1;
  static constexpr bool REPARAM = true;
  static double draw(Rng& r, const double* p, double* e) {
    e[0] = log_std_gamma(r, p[0]);
    return std::fmax(std::exp(e[0] - std::log(p[1])), DBL_MIN);
  }
  static void dz(const double* p, const double* e, double z, double* g) {
    g[0] = z * dlog_std_gamma(p[0], e[0]);
    g[1] = -z / p[1];
  }
};

struct Beta {
  static constexpr const char* dist = "dist_beta()";
  static constexpr const char* lp_name = "log_prob(dist_beta)";
  static constexpr const char* sample_name = "sample(dist_beta)";
  static constexpr int P = 2;
  static constexpr const char* args[P] = {"shape1", "shape2"};
  static const char* check(const double* p, int& j) {
    if (const char* r = positive(p[0])) { j = 0; return r; }
    if (const char* r = positive(p[1])) { j = 1; return r; }
    return nullptr;
  }
  static double lp(double x, const double* p) {
    double a = p[0], b = p[1];
    if (!(x >= 0 && x <= 1)) return -kInf;
    if (x == 0) return a < 1 ? kInf : (a == 1 ? std::log(b) : -kInf);
    if (x == 1) return b < 1 ? kInf : (b == 1 ? std::log(a) : -kInf);
    if (a <= 2 || b <= 2) return (a - 1) * std::log(x) + (b - 1) * std::log1p(-x) - lbeta(a, b);
    // (a + b - 1) dbinom(a - 1; a + b - 2, x): the saddle-point form for large shapes
    return std::log(a + b - 1) + log_dbinom(a - 1, a + b - 2, x, 1 - x);
  }
  static void dlp(double x, const double* p, double* g) {
    double a = p[0], b = p[1], dab = special::digamma(a + b);
    g[0] = (a - 1) / x - (b - 1) / (1 - x);
    g[1] = std::log(x) - special::digamma(a) + dab;
    g[2] = std::log1p(-x) - special::digamma(b) + dab;
  }
  // x = G1 / (G1 + G2) = sigmoid(log G1 - log G2); noise: the two log gamma draws.
  static constexpr int NOISE = 2;
  static constexpr bool REPARAM = true;
  static double draw(Rng& r, const double* p, double* e) {
    e[0] = log_std_gamma(r, p[0]);
    e[1] = log_std_gamma(r, p[1]);
    double x = special::sigmoid(e[0] - e[1]);
    return std::fmin(std::fmax(x, DBL_MIN), 1 - DBL_EPSILON / 2);
  }
  static void dz(const double* p, const double* e, double, double* g) {
    double x = special::sigmoid(e[0] - e[1]), y = special::sigmoid(e[1] - e[0]);
    g[0] = x * y * dlog_std_gamma(p[0], e[0]);
    g[1] = -x * y * dlog_std_gamma(p[1], e[1]);
  }
};

struct Uniform {
  static constexpr const char* dist = "dist_uniform()";
  static constexpr const char* lp_name = "log_prob(dist_uniform)";
  static constexpr const char* sample_name = "sample(dist_uniform)";
  static constexpr int P = 2;
  static constexpr const char* args[P] = {"min", "max"};
  static const char* check(const double* p, int& j) {
    if (const char* r = finite(p[0])) { j = 0; return r; }
    if (const char* r = finite(p[1])) { j = 1; return r; }
    if (!(p[1] > p[0])) { j = 1; return "must be greater than `min`"; }
    return nullptr;
  }
  static double lp(double x, const double* p) {
    if (!(x >= p[0] && x <= p[1])) return -kInf;
    return -std::log(p[1] - p[0]);
  }
  static void dlp(double, const double* p, double* g) {
    double w = p[1] - p[0];
    g[0] = 0; g[1] = 1 / w; g[2] = -1 / w;
  }
  static constexpr int NOISE = 1;
  static constexpr bool REPARAM = true;
  static double draw(Rng& r, const double* p, double* e) {
    e[0] = r.uniform();
    return p[0] + (p[1] - p[0]) * e[0];
  }
  static void dz(const double*, const double* e, double, double* g) { g[0] = 1 - e[0]; g[1] = e[0]; }
};

// A point mass at `value`, with an optional log-density term (autoguides use it to carry the
// log-Jacobian of a transform). Its draw is the value itself, differentiably.
struct Delta {
  static constexpr const char* dist = "dist_delta()";
  static constexpr const char* lp_name = "log_prob(dist_delta)";
  static constexpr const char* sample_name = "sample(dist_delta)";
  static constexpr int P = 2;
  static constexpr const char* args[P] = {"value", "log_density"};
  static const char* check(const double* p, int& j) {
    if (const char* r = finite(p[0])) { j = 0; return r; }
    if (std::isnan(p[1]) || p[1] == kInf) { j = 1; return "must not be NaN or Inf"; }
    return nullptr;
  }
  static double lp(double x, const double* p) { return x == p[0] ? p[1] : -kInf; }
  static void dlp(double, const double*, double* g) { g[0] = 0; g[1] = 0; g[2] = 1; }
  static constexpr int NOISE = 0;
  static constexpr bool REPARAM = true;
  static double draw(Rng&, const double* p, double*) { return p[0]; }
  static void dz(const double*, const double*, double, double* g) { g[0] = 1; g[1] = 0; }
};

}  // namespace dist
}  // namespace svi
