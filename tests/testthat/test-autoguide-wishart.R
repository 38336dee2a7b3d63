# A positive-definite latent end to end: a Wishart prior on a precision matrix with
# multivariate normal data is conjugate, so autoguides (which reach the matrix through the
# positive-definite bijection on its D (D + 1) / 2 free coordinates) are checked against the
# analytic Wishart posterior.
skip_on_cran()

wi_D <- 3L
wi_n <- 400L
wi_lam <- matrix(c(2, 0.6, -0.3, 0.6, 1, 0.2, -0.3, 0.2, 0.5), 3)
set.seed(11)
wi_Y <- matrix(rnorm(wi_n * wi_D), wi_n) %*% solve(chol(wi_lam))   # rows ~ N(0, wi_lam^-1)
wi_nu0 <- 5
wi_S0 <- diag(wi_D) / 2
wi_model <- function(Y) {
  lam <- sample_site("Lambda", dist_wishart(wi_nu0, t(chol(wi_S0))))
  plate("data", nrow(Y), function(i) sample_site("y", dist_mvnormal(numeric(3), precision = lam), obs = Y))
}
# posterior: Wishart(nu0 + n, (S0^-1 + Y'Y)^-1)
wi_nu <- wi_nu0 + wi_n
wi_S <- solve(solve(wi_S0) + crossprod(wi_Y))
wi_mean <- wi_nu * wi_S
wi_mode <- (wi_nu - wi_D - 1) * wi_S
wi_sd <- sqrt(wi_nu * (wi_S^2 + outer(diag(wi_S), diag(wi_S))))

test_that("auto_normal and auto_mvnormal recover the Wishart posterior mean of a precision matrix", {
  # measured (seed 1, 15000 steps, 4000 draws): largest |error| / posterior sd 0.13 (auto_normal),
  # 0.20 (auto_mvnormal); the prior mean (2.5 I) is 4 to 90 posterior sds away
  for (make in list(auto_normal, auto_mvnormal)) {
    s <- fit_auto(wi_model, make(wi_model), 15000, list(wi_Y))
    d <- posterior_draws(s, wi_Y, num_samples = 4000)$Lambda
    expect_equal(dim(d), c(4000L, 3L, 3L))
    m <- apply(d, c(2, 3), mean)
    expect_lt(max(abs(m - wi_mean) / wi_sd), 0.3)
    expect_true(constraint_check(constraint_positive_definite(), median(s, Y = wi_Y)$Lambda))
    if (inherits(make(wi_model), "svi_autoguide_mvnormal")) {
      # a full-rank guide also has the posterior's spread (measured: sd ratios 0.97 to 1.01)
      expect_lt(max(abs(apply(d, c(2, 3), sd) / wi_sd - 1)), 0.1)
    }
  }
  # quantiles of a matrix site come from draws, and say why
  expect_message(q <- quantile(s, c(0.05, 0.95), Y = wi_Y, num_samples = 400),
                 "computed from.*not elementwise")
  expect_equal(dim(q$Lambda), c(2L, 3L, 3L))
  expect_true(all(q$Lambda[1, , ] < wi_mean & wi_mean < q$Lambda[2, , ]))
})

test_that("auto_delta finds the Wishart posterior mode", {
  # MAP in constrained space: (nu - D - 1) S, 1 % away from the mean here (measured error < 1e-4)
  s <- fit_auto(wi_model, auto_delta(wi_model), 3000, list(wi_Y))
  expect_lt(max(abs(median(s, Y = wi_Y)$Lambda / wi_mode - 1)), 1e-3)
  expect_gt(max(abs(wi_mean / wi_mode - 1)), 5e-3)
})
