// The random source the core draws from. The core never owns a generator: the R glue supplies
// one backed by R's RNG (so set.seed() reproduces everything), tests can supply their own.
#pragma once

namespace svi {

struct Rng {
  virtual ~Rng() = default;
  virtual double uniform() = 0;               // U(0, 1)
  virtual double normal() = 0;                // N(0, 1)
  virtual double gamma(double shape) = 0;     // Gamma(shape, rate = 1)
  virtual double poisson(double mu) = 0;
  virtual double binomial(double n, double p) = 0;
  // A uniform index in 0 .. n-1 (R's R_unif_index in the glue, so minibatches match sample.int()).
  virtual double index(double n) { return double(static_cast<long long>(uniform() * n)); }
};

}  // namespace svi
