# Conjugate fits with non-reparameterized guides and baselines: the fitted guide parameters
# must match the analytic posterior at least as tightly as Pyro's own tests ask. Each fit is
# a few thousand svi steps, so these are skipped on CRAN.

fit_tracegraph <- function(model, guide, steps, lr, lrd, seed = 1, per_param = NULL) {
  set.seed(seed)
  s <- svi(model, guide, clipped_adam(lr = lr, betas = c(0.95, 0.999), lrd = lrd, per_param = per_param),
           tracegraph_elbo())
  for (i in seq_len(steps)) svi_step(s)
  s
}

test_that("Beta(1, 1)-Bernoulli on 0, 1, 1, 1 with a decaying-average baseline", {
  skip_on_cran()
  data <- c(0, 1, 1, 1)   # posterior Beta(4, 2)
  model <- function() {
    p <- sample_site("p", dist_beta(1, 1))
    plate("data", 4, function(i) sample_site("obs", dist_bernoulli(prob = p), obs = data))
  }
  guide <- function() {
    a <- exp(param("alpha_q_log", log(4) + 0.17))
    b <- exp(param("beta_q_log", log(2) - 0.143))
    sample_site("p", nonreparameterized(dist_beta(a, b)),
                infer = list(baseline = baseline_decaying_avg()))
  }
  s <- fit_tracegraph(model, guide, steps = 1500, lr = 0.01, lrd = 0.998)
  u <- s$store$values
  expect_lt(abs(u$alpha_q_log - log(4)), 0.04)
  expect_lt(abs(u$beta_q_log - log(2)), 0.04)
})

test_that("Gamma(1, 1)-Exponential on 3, 2 with a decaying-average baseline", {
  skip_on_cran()
  model <- function() {   # posterior Gamma(3, 6)
    lambda <- sample_site("lambda", dist_gamma(1, 1))
    plate("data", 2, function(i) sample_site("obs", dist_exponential(lambda), obs = c(3, 2)))
  }
  guide <- function() {
    a <- exp(param("alpha_q_log", log(3) + 0.17))
    b <- exp(param("beta_q_log", log(6) - 0.143))
    sample_site("lambda", nonreparameterized(dist_gamma(a, b)),
                infer = list(baseline = list(use_decaying_avg_baseline = TRUE)))
  }
  s <- fit_tracegraph(model, guide, steps = 1500, lr = 0.01, lrd = 0.998)
  u <- s$store$values
  expect_lt(abs(u$alpha_q_log - log(3)), 0.04)
  expect_lt(abs(u$beta_q_log - log(6)), 0.04)
})

# mu' ~ N(loc0, lam0^-1/2), mu ~ N(mu', lam0^-1/2), 4 x 2 observations ~ N(mu, lam^-1/2),
# independent across the two dimensions (a plate). The guide runs in the reverse order,
# q(mu) q(mu' | mu), which contains the exact posterior:
# mu | y ~ N(., (lam0 / 2 + 4 lam)^-1/2) and mu' | mu ~ N((loc0 + mu) / 2, (2 lam0)^-1/2).
nnn <- local({
  loc0 <- c(0, 0.5)
  lam0 <- c(0.1, 0.1)
  lam <- c(6, 4)
  data <- rbind(c(-0.1, 0.3), c(0, 0.4), c(0.2, 0.5), c(0.1, 0.7))
  lam_n <- lam0 / 2 + 4 * lam
  opt <- list(loc_q = (loc0 * lam0 / 2 + lam * colSums(data)) / lam_n,
              log_sig_q = -0.5 * log(lam_n),
              kappa_q = c(0.5, 0.5),
              loc_q_prime = loc0 / 2,
              log_sig_q_prime = -0.5 * log(2 * lam0))
  init <- list(loc_q = opt$loc_q + 0.134, log_sig_q = opt$log_sig_q - 0.14,
               kappa_q = c(0.65, 0.65), loc_q_prime = opt$loc_q_prime - 0.2,
               log_sig_q_prime = opt$log_sig_q_prime + 0.15)
  model <- function() {
    plate("dim", 2, function(d) {
      mu_prime <- sample_site("mu_prime", dist_normal(loc0, lam0^-0.5))
      mu <- sample_site("mu", dist_normal(mu_prime, lam0^-0.5))
      dim(mu) <- c(2, 1)
      plate("data", 4, function(i) {
        sample_site("obs", dist_normal(mu %*% matrix(1, 1, 4), matrix(lam^-0.5, 2, 4)), obs = t(data))
      })
    })
  }
  guide <- function(mu_prime_baseline) {
    function() {
      p <- function(nm) param(nm, init[[nm]])
      plate("dim", 2, function(d) {
        mu <- sample_site("mu", nonreparameterized(dist_normal(p("loc_q"), exp(p("log_sig_q")))),
                          infer = list(baseline = baseline_decaying_avg()))
        sample_site("mu_prime",
                    nonreparameterized(dist_normal(p("kappa_q") * mu + p("loc_q_prime"), exp(p("log_sig_q_prime")))),
                    infer = list(baseline = mu_prime_baseline(mu)))
      })
    }
  }
  list(model = model, guide = guide, opt = opt)
})

expect_nnn_optimum <- function(s) {
  p <- params(s)
  for (nm in names(nnn$opt)) {
    expect_lt(sum((p[[nm]] - nnn$opt[[nm]])^2), 0.04, label = paste("squared error of", nm))
  }
}

test_that("Normal-Normal-Normal chain, reverse-order guide, decaying averages", {
  skip_on_cran()
  guide <- nnn$guide(function(mu) baseline_decaying_avg())
  expect_nnn_optimum(fit_tracegraph(nnn$model, guide, steps = 2000, lr = 0.02, lrd = 0.998))
})

test_that("Normal-Normal-Normal chain, reverse-order guide, learned baseline", {
  skip_on_cran()
  # a two-layer network of param() weights, applied to each dimension's mu separately
  net <- function(mu) {
    dim(mu) <- c(2, 1)   # mu arrives detached: a constant tensor handle
    h <- tanh(mu %*% param("bl_w1", matrix(c(0.5, -0.3, 0.2, 0.1, -0.4), 1, 5)) +
                matrix(1, 2, 1) %*% param("bl_b1", matrix(0, 1, 5)))
    h %*% param("bl_w2", matrix(0, 5, 1)) + param("bl_b2", 0)
  }
  guide <- nnn$guide(function(mu) baseline_learned(net, mu))
  s <- fit_tracegraph(nnn$model, guide, steps = 2000, lr = 0.02, lrd = 0.998,
                      per_param = function(nm) if (startsWith(nm, "bl_")) list(lr = 0.1))
  expect_nnn_optimum(s)
  # the network learned something: its output is no longer the constant it started at
  expect_gt(sum(abs(params(s)$bl_w2)), 0.1)
})

test_that("superfluous non-reparameterized latents go to their prior", {
  skip_on_cran()
  loc0 <- c(0, 0.5)
  lam0 <- c(0.1, 0.1)
  lam <- c(6, 4)
  data <- rbind(c(-0.1, 0.3), c(0, 0.4), c(0.2, 0.5), c(0.1, 0.7))
  lam_n <- lam0 + 4 * lam
  opt <- list(loc_q = (loc0 * lam0 + lam * colSums(data)) / lam_n, log_sig_q = -0.5 * log(lam_n))
  model <- function() {
    plate("dim", 2, function(d) {
      mu <- sample_site("mu", dist_normal(loc0, lam0^-0.5))
      dim(mu) <- c(2, 1)
      plate("data", 4, function(i) {
        sample_site("obs", dist_normal(mu %*% matrix(1, 1, 4), matrix(lam^-0.5, 2, 4)), obs = t(data))
      })
    })
    # nothing depends on these
    plate("extra", 3, function(k) sample_site("z", dist_normal(0, 1)))
  }
  guide <- function() {
    plate("dim", 2, function(d) {
      sample_site("mu", nonreparameterized(dist_normal(param("loc_q", opt$loc_q + 0.134),
                                                       exp(param("log_sig_q", opt$log_sig_q - 0.14)))),
                  infer = list(baseline = baseline_decaying_avg()))
    })
    plate("extra", 3, function(k) {
      sample_site("z", nonreparameterized(dist_normal(param("loc_z", c(0.3, -0.3, 0.2)),
                                                      exp(param("log_sig_z", c(0, 0, 0))))),
                  infer = list(baseline = baseline_decaying_avg()))
    })
  }
  p <- params(fit_tracegraph(model, guide, steps = 1500, lr = 0.02, lrd = 0.998))
  expect_lte(sum(p$loc_z^2), 0.04)
  expect_lt(sum((p$loc_q - opt$loc_q)^2), 0.04)
  expect_lt(sum((p$log_sig_q - opt$log_sig_q)^2), 0.04)
})
