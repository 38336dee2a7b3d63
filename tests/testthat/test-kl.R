# Closed-form KL divergences against Monte Carlo estimates, and their gradients.

expect_kl_mc <- function(p, q, n = 1e5) {
  z <- dist_sample(p, n)
  d <- log_prob(p, z) - log_prob(q, z)
  est <- mean(d)
  se <- sd(d) / sqrt(n)
  kl <- kl_divergence(p, q)
  expect(abs(kl - est) <= 4 * se + 1e-12,
         sprintf("%s || %s: closed form %.6g, Monte Carlo %.6g (se %.3g)", format(p), format(q), kl, est, se))
}

test_that("closed-form KL agrees with Monte Carlo (1e5 draws)", {
  set.seed(20240604)
  expect_kl_mc(dist_normal(0.3, 1.2), dist_normal(-1, 2))
  expect_kl_mc(dist_lognormal(0.3, 0.5), dist_lognormal(0, 1))
  expect_kl_mc(dist_gamma(2.5, 1.5), dist_gamma(1.2, 0.7))
  expect_kl_mc(dist_gamma(0.4, 2), dist_gamma(3, 1))
  expect_kl_mc(dist_beta(2, 3), dist_beta(0.7, 1.5))
  expect_kl_mc(dist_exponential(2), dist_exponential(0.5))
  expect_kl_mc(dist_dirichlet(c(1.5, 2, 4)), dist_dirichlet(c(1, 1, 1)))
  S1 <- matrix(c(1, 0.3, 0.3, 0.5), 2)
  S2 <- matrix(c(2, -0.4, -0.4, 1), 2)
  expect_kl_mc(dist_mvnormal(c(0, 1), cov = S1), dist_mvnormal(c(1, -1), cov = S2))
})

test_that("KL is zero for identical distributions and batches broadcast", {
  expect_equal(kl_divergence(dist_gamma(2, 3), dist_gamma(2, 3)), 0, tolerance = 1e-14)
  expect_equal(kl_divergence(dist_beta(2, 3), dist_beta(2, 3)), 0, tolerance = 1e-14)
  kl <- kl_divergence(dist_normal(c(0, 1, 2), 1), dist_normal(0, 1))
  expect_equal(kl, c(0, 0.5, 2))
  m <- rbind(c(0, 0), c(1, 1))
  expect_equal(kl_divergence(dist_mvnormal(m, scale_tril = diag(2)), dist_mvnormal(c(0, 0), scale_tril = diag(2))), c(0, 1))
  a <- rbind(c(1, 2, 3), c(2, 2, 2))
  expect_equal(kl_divergence(dist_dirichlet(a), dist_dirichlet(c(2, 2, 2))),
               c(kl_divergence(dist_dirichlet(a[1, ]), dist_dirichlet(c(2, 2, 2))), 0), tolerance = 1e-14)
})

test_that("KL gradients match finite differences for both distributions' parameters", {
  check <- function(f, x) {
    g <- value_and_grad(f, x)$grad
    for (i in seq_along(x)) {
      e <- replace(x * 0, i, 1e-6)
      expect_equal(g[i], (f(x + e) - f(x - e)) / 2e-6, tolerance = 1e-6)
    }
  }
  check(function(p) kl_divergence(dist_normal(p[1], p[2]), dist_normal(p[3], p[4])), c(0.3, 1.2, -1, 2))
  check(function(p) kl_divergence(dist_lognormal(p[1], p[2]), dist_lognormal(p[3], p[4])), c(0.3, 1.2, -1, 2))
  check(function(p) kl_divergence(dist_gamma(p[1], p[2]), dist_gamma(p[3], p[4])), c(2.5, 1.5, 1.2, 0.7))
  check(function(p) kl_divergence(dist_beta(p[1], p[2]), dist_beta(p[3], p[4])), c(2, 3, 0.7, 1.5))
  check(function(p) kl_divergence(dist_exponential(p[1]), dist_exponential(p[2])), c(2, 0.5))
  check(function(p) kl_divergence(dist_dirichlet(p[1:3]), dist_dirichlet(p[4:6])), c(1.5, 2, 4, 1, 0.5, 2))
  L1 <- matrix(c(1, 0.3, 0, 0.7), 2)
  L2 <- matrix(c(1.4, -0.3, 0, 0.9), 2)
  low <- lower.tri(L1, diag = TRUE)
  f <- function(p) {
    l1 <- c(p[3], p[4], 0, p[5]); dim(l1) <- c(2, 2)
    l2 <- c(p[8], p[9], 0, p[10]); dim(l2) <- c(2, 2)
    kl_divergence(dist_mvnormal(p[1:2], scale_tril = l1), dist_mvnormal(p[6:7], scale_tril = l2))
  }
  check(f, c(0, 1, L1[low], 1, -1, L2[low]))
})

test_that("Delta-anything is -log q(value); unknown pairs signal svi_kl_not_implemented", {
  expect_equal(kl_divergence(dist_delta(0.3), dist_normal(0, 1)), -dnorm(0.3, log = TRUE))
  expect_equal(kl_divergence(dist_delta(c(1, 2)), dist_poisson(2)), -dpois(1:2, 2, log = TRUE))
  expect_error(kl_divergence(dist_normal(0, 1), dist_cauchy(0, 1)), class = "svi_kl_not_implemented")
  expect_error(kl_divergence(dist_normal(0, 1), dist_gamma(1, 1)), class = "svi_kl_not_implemented")
  expect_snapshot(kl_divergence(dist_normal(0, 1), dist_laplace(0, 1)), error = TRUE)
})
