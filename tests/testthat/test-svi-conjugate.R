# Conjugate models fitted from far-off starts; targets are the analytic posteriors and the
# tolerances are half of Pyro's own tests (0.025 squared error on the Normal's loc and
# log-scale, 0.1 absolute on Gamma shape/rate, 0.04 on the Beta's log-parameters).
# The fits run compiled (see fit_params()): tens of thousands of steps take seconds.
skip_on_cran()

reparam_optim <- function() clipped_adam(lr = 0.05, lrd = 0.9997)      # 15000 steps
score_optim <- function() clipped_adam(lr = 0.05, lrd = 0.99992)       # 50000 steps
cases <- function() list(
  list(reparam = TRUE, loss = trace_elbo(), steps = 15000, optim = reparam_optim()),
  list(reparam = TRUE, loss = meanfield_elbo(), steps = 15000, optim = reparam_optim()),
  list(reparam = FALSE, loss = trace_elbo(num_particles = 32), steps = 50000, optim = score_optim())
)

# Normal-Normal, 2-dim latent, 4 observations
nn <- local({
  loc0 <- c(0, 0.5); lam0 <- c(0.1, 0.1); lam <- c(6, 4)
  y <- rbind(c(-0.1, 0.3), c(0, 0.4), c(0.2, 0.5), c(0.1, 0.7))
  lam_n <- lam0 + nrow(y) * lam
  list(y = y, loc0 = loc0, lam0 = lam0, lam = lam,
       loc_n = (lam0 * loc0 + lam * colSums(y)) / lam_n, sd_n = 1 / sqrt(lam_n))
})
nn_model <- function(y) {
  mu <- sample_site("mu", dist_normal(nn$loc0, 1 / sqrt(nn$lam0)))
  plate("data", nrow(y), function(i) {
    sample_site("obs", dist_normal(rep(1, nrow(y)) %*% t(mu), rep(1, nrow(y)) %*% t(1 / sqrt(nn$lam))), obs = y)
  })
}
nn_guide <- function(reparam) function(y) {
  loc <- param("loc", nn$loc_n + c(0.4, -0.4))
  scale <- param("scale", nn$sd_n * c(2, 0.5), constraint = constraint_positive())
  d <- dist_normal(loc, scale)
  sample_site("mu", if (reparam) d else nonreparameterized(d))
}
expect_nn <- function(p) {
  expect_lt(sum((p$loc - nn$loc_n)^2), 0.025)
  expect_lt(sum((log(p$scale) - log(nn$sd_n))^2), 0.025)
}

test_that("Normal-Normal posterior, reparameterized and not, Trace_ELBO and TraceMeanField_ELBO", {
  for (case in cases()) {
    expect_nn(fit_params(nn_model, nn_guide(case$reparam), case$steps, case$optim, case$loss, nn$y))
  }
})

# Poisson-Gamma (helper-conjugate.R): y = 1, 2, 3 -> Gamma(7, 4)

test_that("Poisson-Gamma posterior, reparameterized and not, Trace_ELBO and TraceMeanField_ELBO", {
  y <- c(1, 2, 3)
  for (case in cases()) {
    p <- fit_params(pg_model, gamma_guide("lambda", 3, 8, case$reparam), case$steps, case$optim, case$loss, y)
    expect_lt(abs(p$shape - 7), 0.1)
    expect_lt(abs(p$rate - 4), 0.1)
  }
})

# Exponential-Gamma: rate ~ Gamma(1, 1), y = 3, 2 -> Gamma(3, 6)
eg_model <- function(y) {
  rate <- sample_site("rate_", dist_gamma(1, 1))
  plate("data", length(y), function(i) sample_site("obs", dist_exponential(rate), obs = y))
}

test_that("Exponential-Gamma posterior, reparameterized and not, Trace_ELBO and TraceMeanField_ELBO", {
  y <- c(3, 2)
  for (case in cases()) {
    p <- fit_params(eg_model, gamma_guide("rate_", 8, 2, case$reparam), case$steps, case$optim, case$loss, y)
    expect_lt(abs(p$shape - 3), 0.1)
    expect_lt(abs(p$rate - 6), 0.1)
  }
})

# Bernoulli-Beta (helper-conjugate.R): y = 0, 1, 1, 1 -> Beta(4, 2)

test_that("Bernoulli-Beta posterior, reparameterized and not, Trace_ELBO and TraceMeanField_ELBO", {
  y <- c(0, 1, 1, 1)
  for (case in cases()) {
    p <- fit_params(bb_model, bb_guide(case$reparam), case$steps, case$optim, case$loss, y)
    expect_lt(abs(log(p$a) - log(4)), 0.04)
    expect_lt(abs(log(p$b) - log(2)), 0.04)
  }
})
