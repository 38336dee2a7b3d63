# Bayesian logistic regression (intercept b, slope w): auto_diagonal_normal against the exact
# mean-field optimum (the ELBO by Gauss-Hermite quadrature, maximised by optim()),
# auto_mvnormal against the exact posterior moments (quadrature on a 201 x 201 grid), and the
# Laplace covariance against the inverse of optim()'s Hessian of the same log density.
skip_on_cran()

set.seed(3)
lr_x <- rnorm(60)
lr_y <- as.numeric(runif(60) < plogis(-0.5 + 1.2 * lr_x))
lr_model <- function(x, y) {
  b <- sample_site("b", dist_normal(0, 2))
  w <- sample_site("w", dist_normal(0, 2))
  plate("data", length(y), function(i) sample_site("y", dist_bernoulli(logit = b + w * x), obs = y))
}
lr_logjoint <- function(b, w) {
  dnorm(b, 0, 2, log = TRUE) + dnorm(w, 0, 2, log = TRUE) +
    sum(lr_y * plogis(b + w * lr_x, log.p = TRUE) + (1 - lr_y) * plogis(-(b + w * lr_x), log.p = TRUE))
}
lr_args <- list(lr_x, lr_y)

test_that("auto_diagonal_normal reaches the exact mean-field optimum", {
  gh <- gauss_hermite(30)
  neg_elbo <- function(th) {
    m <- th[1:2]
    s <- exp(th[3:4])
    eta <- outer(m[1] + m[2] * lr_x, rep(1, 30)) + outer(sqrt(s[1]^2 + s[2]^2 * lr_x^2), gh$x)
    ell <- sum((lr_y * plogis(eta, log.p = TRUE) + (1 - lr_y) * plogis(-eta, log.p = TRUE)) %*% gh$w)
    -(ell + sum(dnorm(m, 0, 2, log = TRUE) - s^2 / 8) + sum(log(s)))
  }
  opt <- optim(c(0, 0, -1, -1), neg_elbo, method = "BFGS", control = list(reltol = 1e-12))$par
  s <- fit_auto(lr_model, auto_diagonal_normal(lr_model), 15000, lr_args)
  p <- params(s)
  expect_lt(sum((p$auto_loc - opt[1:2])^2), 0.025)
  expect_lt(sum((log(p$auto_scale) - opt[3:4])^2), 0.025)
  expect_lt(max(abs(p$auto_loc - opt[1:2])), 0.05)
  expect_lt(max(abs(log(p$auto_scale) - opt[3:4])), 0.05)
})

test_that("auto_mvnormal: means within 0.05 and sds within 10 % of the exact posterior", {
  gb <- seq(-3, 2, length.out = 201)
  gw <- seq(-1, 4, length.out = 201)
  g <- expand.grid(b = gb, w = gw)
  eta <- outer(g$b, rep(1, 60)) + outer(g$w, lr_x)
  lp <- dnorm(g$b, 0, 2, log = TRUE) + dnorm(g$w, 0, 2, log = TRUE) +
    as.vector((plogis(eta, log.p = TRUE) %*% lr_y) + (plogis(-eta, log.p = TRUE) %*% (1 - lr_y)))
  P <- exp(lp - max(lp))
  P <- P / sum(P)
  mean_ref <- c(b = sum(P * g$b), w = sum(P * g$w))
  sd_ref <- sqrt(c(b = sum(P * g$b^2), w = sum(P * g$w^2)) - mean_ref^2)
  s <- fit_auto(lr_model, auto_mvnormal(lr_model), 15000, lr_args)
  q <- quantile(s, pnorm(c(-1, 0, 1)), args = lr_args)
  m <- vapply(q, function(v) v[2], 1)
  sds <- vapply(q, function(v) (v[3] - v[1]) / 2, 1)
  expect_lt(max(abs(m - mean_ref)), 0.05)
  expect_lt(max(abs(sds / sd_ref - 1)), 0.1)
  # the fitted correlation has the posterior's sign and size
  C <- svi:::autoguide_covariance(s$guide, params(s))
  rho_ref <- (sum(P * g$b * g$w) - prod(mean_ref)) / prod(sd_ref)
  expect_lt(abs(cov2cor(C)[1, 2] - rho_ref), 0.1)
})

test_that("auto_lowrank_mvnormal with rank 1 fits the two-dimensional posterior too", {
  s <- fit_auto(lr_model, auto_lowrank_mvnormal(lr_model, rank = 1), 15000, lr_args)
  ref <- optim(c(0, 0), function(t) -lr_logjoint(t[1], t[2]), method = "BFGS")$par
  m <- unlist(median(s, args = lr_args))
  # the guide's median sits near the posterior's centre (mode -1.02, 1.62; means -1.07, 1.72)
  expect_lt(max(abs(m - c(-1.07, 1.72))), 0.1)
  expect_true(all(abs(m - ref) < 0.15))
})

test_that("auto_laplace: covariance within 5 % of the inverse of optim()'s Hessian", {
  s <- fit_auto(lr_model, auto_laplace(lr_model), 3000, lr_args, optim = adam(0.05))
  lap <- laplace_approximation(s, lr_x, lr_y)
  o <- optim(c(0, 0), function(t) -lr_logjoint(t[1], t[2]), method = "BFGS", hessian = TRUE,
             control = list(reltol = 1e-12))
  C <- svi:::autoguide_covariance(lap$guide, NULL)
  ref <- solve(o$hessian)
  expect_lt(max(abs(C / ref - 1)), 0.05)        # every entry, the covariance included
  expect_equal(unname(unlist(median(lap, args = lr_args))), o$par, tolerance = 1e-3)
  # draws from the approximation have its covariance
  set.seed(4)
  d <- posterior_draws(lap, lr_x, lr_y, num_samples = 2000)
  expect_lt(max(abs(cov(cbind(d$b, d$w)) / ref - 1)), 0.15)
})
