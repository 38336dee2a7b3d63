# Conjugate models whose posteriors are known exactly, shared by test-svi-conjugate.R,
# test-autoguide-conjugate.R and test-stationary.R (each passes its own data).

# Poisson-Gamma: lambda ~ Gamma(1, 1), y ~ Poisson(lambda) -> Gamma(1 + sum(y), 1 + n).
pg_model <- function(y) {
  lambda <- sample_site("lambda", dist_gamma(1, 1))
  plate("data", length(y), function(i) sample_site("obs", dist_poisson(lambda), obs = y))
}
# A Gamma guide for `site` starting at (shape0, rate0), with or without reparameterized draws.
gamma_guide <- function(site, shape0, rate0, reparam = TRUE) function(y) {
  a <- param("shape", shape0, constraint = constraint_positive())
  b <- param("rate", rate0, constraint = constraint_positive())
  d <- dist_gamma(a, b)
  sample_site(site, if (reparam) d else nonreparameterized(d))
}

# Beta-Bernoulli: p ~ Beta(1, 1), y ~ Bernoulli(p) -> Beta(1 + sum(y), 1 + n - sum(y)).
bb_model <- function(y) {
  p <- sample_site("p", dist_beta(1, 1))
  plate("data", length(y), function(i) sample_site("obs", dist_bernoulli(p), obs = y))
}
# A Beta guide starting at Beta(1, 6), with or without reparameterized draws.
bb_guide <- function(reparam = TRUE) function(y) {
  a <- param("a", 1, constraint = constraint_positive())
  b <- param("b", 6, constraint = constraint_positive())
  d <- dist_beta(a, b)
  sample_site("p", if (reparam) d else nonreparameterized(d))
}
