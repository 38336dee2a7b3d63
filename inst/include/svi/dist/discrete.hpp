// Univariate discrete distributions. Values are counts (0/1 for Bernoulli); a value that is
// not a whole number in the support has log-probability -Inf. Draws carry no gradient
// (REPARAM = false): inference uses score-function estimators for them.
#pragma once
#include <cmath>
#include "../special.hpp"
#include "common.hpp"
#include "density.hpp"

namespace svi {
namespace dist {

inline const char* prob_open0(double v) {
  return (v > 0 && v <= 1) ? nullptr : "must be greater than 0 and at most 1";
}

struct BernoulliProb {
  static constexpr const char* dist = "dist_bernoulli()";
  static constexpr const char* lp_name = "log_prob(dist_bernoulli)";
  static constexpr const char* sample_name = "sample(dist_bernoulli)";
  static constexpr int P = 1;
  static constexpr const char* args[P] = {"prob"};
  static const char* check(const double* p, int& j) { j = 0; return prob(p[0]); }
  static double lp(double x, const double* p) {
    if (x == 1) return std::log(p[0]);
    if (x == 0) return std::log1p(-p[0]);
    return -kInf;
  }
  static void dlp(double x, const double* p, double* g) {
    g[0] = 0;
    g[1] = x == 1 ? 1 / p[0] : -1 / (1 - p[0]);
  }
  static constexpr int NOISE = 0;
  static constexpr bool REPARAM = false;
  static double draw(Rng& r, const double* p, double*) { return r.uniform() < p[0] ? 1.0 : 0.0; }
  static void dz(const double*, const double*, double, double* g) { g[0] = 0; }
};

struct BernoulliLogit {
  static constexpr const char* dist = "dist_bernoulli()";
  static constexpr const char* lp_name = "log_prob(dist_bernoulli)";
  static constexpr const char* sample_name = "sample(dist_bernoulli)";
  static constexpr int P = 1;
  static constexpr const char* args[P] = {"logit"};
  static const char* check(const double* p, int& j) { j = 0; return finite(p[0]); }
  static double lp(double x, const double* p) {
    if (x == 1) return -special::softplus(-p[0]);
    if (x == 0) return -special::softplus(p[0]);
    return -kInf;
  }
  static void dlp(double x, const double* p, double* g) {
    g[0] = 0;
    g[1] = x - special::sigmoid(p[0]);
  }
  static constexpr int NOISE = 0;
  static constexpr bool REPARAM = false;
  static double draw(Rng& r, const double* p, double*) {
    return r.uniform() < special::sigmoid(p[0]) ? 1.0 : 0.0;
  }
  static void dz(const double*, const double*, double, double* g) { g[0] = 0; }
};

struct BinomialProb {
  static constexpr const char* dist = "dist_binomial()";
  static constexpr const char* lp_name = "log_prob(dist_binomial)";
  static constexpr const char* sample_name = "sample(dist_binomial)";
  static constexpr int P = 2;
  static constexpr const char* args[P] = {"size", "prob"};
  static const char* check(const double* p, int& j) {
    if (const char* r = count(p[0])) { j = 0; return r; }
    if (const char* r = prob(p[1])) { j = 1; return r; }
    return nullptr;
  }
  static double lp(double x, const double* p) {
    if (!is_int(x)) return -kInf;
    return log_dbinom(x, p[0], p[1], 1 - p[1]);
  }
  static void dlp(double x, const double* p, double* g) {
    double n = p[0], q = p[1];
    g[0] = 0; g[1] = 0;
    g[2] = (x > 0 ? x / q : 0) - (n - x > 0 ? (n - x) / (1 - q) : 0);
  }
  static constexpr int NOISE = 0;
  static constexpr bool REPARAM = false;
  static double draw(Rng& r, const double* p, double*) { return r.binomial(p[0], p[1]); }
  static void dz(const double*, const double*, double, double* g) { g[0] = g[1] = 0; }
};

struct BinomialLogit {
  static constexpr const char* dist = "dist_binomial()";
  static constexpr const char* lp_name = "log_prob(dist_binomial)";
  static constexpr const char* sample_name = "sample(dist_binomial)";
  static constexpr int P = 2;
  static constexpr const char* args[P] = {"size", "logit"};
  static const char* check(const double* p, int& j) {
    if (const char* r = count(p[0])) { j = 0; return r; }
    if (const char* r = finite(p[1])) { j = 1; return r; }
    return nullptr;
  }
  static double lp(double x, const double* p) {
    if (!is_int(x)) return -kInf;
    return log_dbinom(x, p[0], special::sigmoid(p[1]), special::sigmoid(-p[1]));
  }
  static void dlp(double x, const double* p, double* g) {
    g[0] = 0; g[1] = 0;
    g[2] = x - p[0] * special::sigmoid(p[1]);
  }
  static constexpr int NOISE = 0;
  static constexpr bool REPARAM = false;
  static double draw(Rng& r, const double* p, double*) {
    return r.binomial(p[0], special::sigmoid(p[1]));
  }
  static void dz(const double*, const double*, double, double* g) { g[0] = g[1] = 0; }
};

struct Poisson {
  static constexpr const char* dist = "dist_poisson()";
  static constexpr const char* lp_name = "log_prob(dist_poisson)";
  static constexpr const char* sample_name = "sample(dist_poisson)";
  static constexpr int P = 1;
  static constexpr const char* args[P] = {"lambda"};
  static const char* check(const double* p, int& j) { j = 0; return nonneg(p[0]); }
  static double lp(double x, const double* p) {
    if (!is_int(x) || x < 0) return -kInf;
    return log_dpois(x, p[0]);
  }
  static void dlp(double x, const double* p, double* g) {
    g[0] = 0;
    g[1] = (x > 0 ? x / p[0] : 0) - 1;
  }
  static constexpr int NOISE = 0;
  static constexpr bool REPARAM = false;
  static double draw(Rng& r, const double* p, double*) { return r.poisson(p[0]); }
  static void dz(const double*, const double*, double, double* g) { g[0] = 0; }
};

// R's parameterization: the number of failures before `size` successes, success probability
// `prob`; mean size (1 - prob) / prob.
struct NegBinomialProb {
  static constexpr const char* dist = "dist_negative_binomial()";
  static constexpr const char* lp_name = "log_prob(dist_negative_binomial)";
  static constexpr const char* sample_name = "sample(dist_negative_binomial)";
  static constexpr int P = 2;
  static constexpr const char* args[P] = {"size", "prob"};
  static const char* check(const double* p, int& j) {
    if (const char* r = positive(p[0])) { j = 0; return r; }
    if (const char* r = prob_open0(p[1])) { j = 1; return r; }
    return nullptr;
  }
  // size / (size + x) * dbinom(size; size + x, prob)
  static double lp(double x, const double* p) {
    if (!is_int(x) || x < 0) return -kInf;
    double n = p[0];
    return std::log(n / (n + x)) + log_dbinom(n, x + n, p[1], 1 - p[1]);
  }
  static void dlp(double x, const double* p, double* g) {
    double n = p[0], q = p[1];
    g[0] = 0;
    g[1] = special::digamma(x + n) - special::digamma(n) + std::log(q);
    g[2] = n / q - (x > 0 ? x / (1 - q) : 0);
  }
  static constexpr int NOISE = 0;
  static constexpr bool REPARAM = false;
  static double draw(Rng& r, const double* p, double*) {
    if (p[1] == 1) return 0;
    return r.poisson(r.gamma(p[0]) * (1 - p[1]) / p[1]);  // gamma-Poisson mixture
  }
  static void dz(const double*, const double*, double, double* g) { g[0] = g[1] = 0; }
};

struct NegBinomialMu {
  static constexpr const char* dist = "dist_negative_binomial()";
  static constexpr const char* lp_name = "log_prob(dist_negative_binomial)";
  static constexpr const char* sample_name = "sample(dist_negative_binomial)";
  static constexpr int P = 2;
  static constexpr const char* args[P] = {"size", "mu"};
  static const char* check(const double* p, int& j) {
    if (const char* r = positive(p[0])) { j = 0; return r; }
    if (const char* r = nonneg(p[1])) { j = 1; return r; }
    return nullptr;
  }
  static double lp(double x, const double* p) {
    if (!is_int(x) || x < 0) return -kInf;
    double n = p[0], mu = p[1];
    if (x == 0) return n * (n < mu ? std::log(n / (n + mu)) : std::log1p(-mu / (n + mu)));
    return std::log(n / (n + x)) + log_dbinom(n, x + n, n / (n + mu), mu / (n + mu));
  }
  static void dlp(double x, const double* p, double* g) {
    double n = p[0], mu = p[1];
    g[0] = 0;
    g[1] = special::digamma(x + n) - special::digamma(n) - std::log1p(mu / n) + (mu - x) / (n + mu);
    g[2] = (x > 0 ? x / mu : 0) - (n + x) / (n + mu);
  }
  static constexpr int NOISE = 0;
  static constexpr bool REPARAM = false;
  static double draw(Rng& r, const double* p, double*) {
    if (p[1] == 0) return 0;
    return r.poisson(r.gamma(p[0]) * p[1] / p[0]);
  }
  static void dz(const double*, const double*, double, double* g) { g[0] = g[1] = 0; }
};

}  // namespace dist
}  // namespace svi
