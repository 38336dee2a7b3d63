# Conjugate models with auto_normal and auto_mvnormal against their analytic posteriors, with
# the tolerances of test-svi-conjugate.R (squared errors 0.025 on loc and log-scale). Where
# the posterior is not normal in unconstrained space (Gamma, Beta) the guide's family cannot
# equal it: its parameters are compared with the family's exact optimum (closed form or
# quadrature) at those tolerances, its mean with the posterior's within the range the
# Gamma / Beta guides' tolerances there allow, and its sd within 10 % (the family's optimum
# itself is 3.7 % / 1.5 % above the posterior sd).
skip_on_cran()

nn_loc0 <- c(0, 0.5); nn_lam0 <- c(0.1, 0.1); nn_lam <- c(6, 4)
nn_y <- rbind(c(-0.1, 0.3), c(0, 0.4), c(0.2, 0.5), c(0.1, 0.7))
nn_lam_n <- nn_lam0 + nrow(nn_y) * nn_lam
nn_loc_n <- (nn_lam0 * nn_loc0 + nn_lam * colSums(nn_y)) / nn_lam_n
nn_sd_n <- 1 / sqrt(nn_lam_n)
nn_model <- function(y) {
  mu <- sample_site("mu", dist_normal(nn_loc0, 1 / sqrt(nn_lam0)))
  plate("data", nrow(y), function(i) {
    sample_site("obs", dist_normal(rep(1, nrow(y)) %*% t(mu), rep(1, nrow(y)) %*% t(1 / sqrt(nn_lam))), obs = y)
  })
}

# Mean and sd from the guide's exact normal quantiles (for real supports).
loc_sd <- function(s, args, site) {
  q <- quantile(s, stats::pnorm(c(-1, 0, 1)), args = args)[[site]]
  list(loc = q[2, ], sd = (q[3, ] - q[1, ]) / 2)
}

test_that("Normal-Normal: auto_normal and auto_mvnormal, Trace_ELBO and TraceMeanField_ELBO", {
  for (make in list(auto_normal, auto_mvnormal)) {
    for (loss in list(trace_elbo(), meanfield_elbo())) {
      s <- fit_auto(nn_model, make(nn_model), 15000, list(nn_y), loss = loss)
      p <- loc_sd(s, list(nn_y), "mu")
      if (length(dim(p$loc))) p <- lapply(p, as.vector)
      expect_lt(sum((p$loc - nn_loc_n)^2), 0.025)
      expect_lt(sum((log(p$sd) - log(nn_sd_n))^2), 0.025)
      expect_lt(max(abs(p$loc - nn_loc_n)), 0.05)
      expect_lt(max(abs(log(p$sd / nn_sd_n))), 0.1)
    }
  }
})

test_that("the real-support site of auto_normal is a plain Normal, so meanfield_elbo's KL is analytic", {
  g <- auto_normal(nn_model)
  set.seed(1)
  s <- svi(nn_model, g, adam(0.01), meanfield_elbo())
  svi_step(s, nn_y)
  tr <- trace_model(g, nn_y)
  expect_s3_class(tr$mu$fn, "svi_dist_normal")
  # the loss equals the analytic-KL ELBO computed by hand
  p <- params(s)
  set.seed(5)
  l <- evaluate_loss(s, nn_y)
  set.seed(5)
  z <- p$mu_auto_loc + p$mu_auto_scale * rnorm(2)
  ll <- sum(dnorm(nn_y, rep(1, 4) %*% t(z), rep(1, 4) %*% t(1 / sqrt(nn_lam)), log = TRUE))
  kl <- sum(kl_divergence(dist_normal(p$mu_auto_loc, p$mu_auto_scale), dist_normal(nn_loc0, 1 / sqrt(nn_lam0))))
  expect_equal(l, kl - ll, tolerance = 1e-10)
})

# Poisson-Gamma: lambda ~ Gamma(1, 1), y = 1, 2, 3 -> Gamma(7, 4). With u = log(lambda) and
# q(u) = N(m, s^2) the ELBO is 7m - 4 exp(m + s^2/2) + log s + const, maximised at
# s^2 = 1/7, m = log(7/4) - 1/14. (pg_model: helper-conjugate.R)

test_that("Poisson-Gamma: auto_normal and auto_mvnormal", {
  y <- c(1, 2, 3)
  m_opt <- log(7 / 4) - 1 / 14
  s_opt <- sqrt(1 / 7)
  for (make in list(auto_normal, auto_mvnormal)) {
    s <- fit_auto(pg_model, make(pg_model), 15000, list(y))
    p <- params(s)
    loc <- if (is.null(p$auto_loc)) p$lambda_auto_loc else p$auto_loc
    sc <- if (is.null(p$auto_scale)) p$lambda_auto_scale else p$auto_scale
    expect_lt((loc - m_opt)^2, 0.025)
    expect_lt((log(sc) - log(s_opt))^2, 0.025)
    expect_lt(abs(loc - m_opt), 0.03)
    expect_lt(abs(log(sc / s_opt)), 0.05)
    # the fitted log-normal's moments (at the optimum: mean 1.75, sd 3.7 % above the posterior's).
    # The mean is within what test-svi-conjugate.R allows a Gamma guide (shape 7 +- 0.1, rate
    # 4 +- 0.1; a / b is monotone in each, so its extremes are at the corners)
    allowed <- range(outer(7 + c(-0.1, 0.1), 4 + c(-0.1, 0.1), "/"))
    expect_gt(exp(loc + sc^2 / 2), allowed[1])
    expect_lt(exp(loc + sc^2 / 2), allowed[2])
    expect_lt(abs(exp(loc + sc^2 / 2) * sqrt(exp(sc^2) - 1) / (sqrt(7) / 4) - 1), 0.1)
    expect_equal(median(s, y = y)$lambda, exp(loc))
  }
})

# Beta-Bernoulli: p ~ Beta(1, 1), 6 ones in 8 -> Beta(7, 3). With u = logit(p) the optimum of
# q(u) = N(m, s^2) is found by Gauss-Hermite quadrature of the ELBO. (bb_model:
# helper-conjugate.R)

test_that("Beta-Bernoulli: auto_normal and auto_mvnormal", {
  y <- c(1, 0, 1, 1, 0, 1, 1, 1)
  gh <- gauss_hermite(40)
  # log Beta(7, 3) density of sigmoid(u) plus the log-Jacobian: 7 log s(u) + 3 log(1 - s(u))
  neg_elbo <- function(th) {
    u <- th[1] + exp(th[2]) * gh$x
    -(sum(gh$w * (7 * plogis(u, log.p = TRUE) + 3 * plogis(-u, log.p = TRUE))) + th[2])
  }
  opt <- optim(c(0, 0), neg_elbo, method = "BFGS", control = list(reltol = 1e-14))$par
  for (make in list(auto_normal, auto_mvnormal)) {
    s <- fit_auto(bb_model, make(bb_model), 15000, list(y))
    p <- params(s)
    loc <- if (is.null(p$auto_loc)) p$p_auto_loc else p$auto_loc
    sc <- if (is.null(p$auto_scale)) p$p_auto_scale else p$auto_scale
    expect_lt((loc - opt[1])^2, 0.025)
    expect_lt((log(sc) - opt[2])^2, 0.025)
    expect_lt(abs(loc - opt[1]), 0.05)
    expect_lt(abs(log(sc) - opt[2]), 0.05)
    # the fitted logit-normal's moments, by quadrature
    pz <- plogis(loc + sc * gh$x)
    m1 <- sum(gh$w * pz)
    # the mean within what test-svi-conjugate.R allows a Beta guide (log-parameters within 0.04;
    # a / (a + b) is monotone in each, so its extremes are at the corners)
    allowed <- range(outer(7 * exp(c(-0.04, 0.04)), 3 * exp(c(-0.04, 0.04)), function(a, b) a / (a + b)))
    expect_gt(m1, allowed[1])
    expect_lt(m1, allowed[2])
    expect_lt(abs(sqrt(sum(gh$w * pz^2) - m1^2) / sqrt(0.7 * 0.3 / 11) - 1), 0.1)
    # quantiles are exact: the logit-normal's, mapped through the sigmoid
    q <- quantile(s, c(0.1, 0.9), y = y)$p
    expect_equal(q, plogis(loc + sc * qnorm(c(0.1, 0.9))))
  }
})
