# dist_wishart(): density against the textbook formula, gradients, Bartlett draws, errors;
# dist_mvnormal(precision = ), which a Wishart precision latent feeds.

# log p(X) written from the Wishart formula with base R only.
dwishart_r <- function(X, nu, S) {
  D <- nrow(X)
  lmg <- D * (D - 1) / 4 * log(pi) + sum(lgamma(nu / 2 + (1 - seq_len(D)) / 2))
  (nu - D - 1) / 2 * log(det(X)) - sum(diag(solve(S, X))) / 2 - nu * D / 2 * log(2) -
    nu / 2 * log(det(S)) - lmg
}
S3 <- matrix(c(2, 0.5, 0.1, 0.5, 1, 0.3, 0.1, 0.3, 1.5), 3)
X3 <- matrix(c(7.2, 5.1, 2.7, 5.1, 11.7, -0.7, 2.7, -0.7, 4.0), 3)

test_that("dist_wishart(): log-density matches the formula, one matrix or a stack of them", {
  for (nu in c(2.5, 6.5, 40)) {
    d <- dist_wishart(nu, t(chol(S3)))
    expect_equal(log_prob(d, X3), dwishart_r(X3, nu, S3), tolerance = 1e-12)
  }
  # D = 1: the Wishart is Gamma(nu / 2, rate = 1 / (2 sigma^2))
  expect_equal(log_prob(dist_wishart(3, matrix(1.5)), matrix(2.2)),
               dgamma(2.2, 1.5, rate = 1 / (2 * 1.5^2), log = TRUE), tolerance = 1e-12)
  d <- dist_wishart(6.5, t(chol(S3)))
  set.seed(2)
  Xs <- dist_sample(d, n = 5)
  expect_equal(dim(Xs), c(5, 3, 3))
  expect_equal(log_prob(d, Xs), vapply(1:5, function(k) dwishart_r(Xs[k, , ], 6.5, S3), 1), tolerance = 1e-12)
  # outside the support: not symmetric, not positive definite
  Y <- X3
  Y[1, 2] <- Y[1, 2] + 0.1
  expect_equal(log_prob(d, Y), -Inf)
  expect_equal(log_prob(d, diag(c(1, -1, 1))), -Inf)
  expect_identical(support(d), constraint_positive_definite())
  expect_false(has_rsample(d))
  expect_equal(mean(d), 6.5 * S3)
  expect_equal(dist_variance(d), 6.5 * (S3^2 + outer(diag(S3), diag(S3))))
})

test_that("dist_wishart(): gradients in the value, df and scale_tril match finite differences", {
  L <- t(chol(S3))
  A <- t(chol(X3))
  # the value enters as A A^T, so finite differences stay on symmetric matrices
  expect_grad_matches_fd(function(p) log_prob(dist_wishart(p$df, p$L), tcross_prod(p$A)),
                         list(df = 6.5, L = L, A = A))
  # a stack of values, weighted, and a tensor scale only
  set.seed(3)
  Xs <- dist_sample(dist_wishart(5, L), n = 3)
  expect_grad_matches_fd(function(L) sum(c(1, -2, 0.5) * log_prob(dist_wishart(5, L), Xs)), L)
  # symmetric gradient in X: (df - D - 1) / 2 X^-1 - Sigma^-1 / 2
  g <- value_and_grad(function(X) log_prob(dist_wishart(6.5, L), X), X3)$grad
  expect_equal(g, (6.5 - 4) / 2 * solve(X3) - solve(S3) / 2, tolerance = 1e-10)
})

test_that("dist_wishart(): Bartlett draws have mean df * Sigma and variance df (S_ij^2 + S_ii S_jj)", {
  d <- dist_wishart(4.5, t(chol(S3)))
  set.seed(4)
  n <- 20000
  Xs <- dist_sample(d, n = n)
  expect_true(all(apply(Xs, 1, function(x) isSymmetric(x) && all(eigen(x, only.values = TRUE)$values > 0))))
  m <- apply(Xs, c(2, 3), mean)
  sd_mean <- sqrt(dist_variance(d) / n)
  expect_true(all(abs(m - 4.5 * S3) < 4 * sd_mean))
  v <- apply(Xs, c(2, 3), var)
  expect_true(all(abs(v / dist_variance(d) - 1) < 0.1))
  # R's RNG: a seed reproduces the draws
  set.seed(4)
  expect_identical(dist_sample(d, n = n), Xs)
})

test_that("dist_wishart(): bad arguments are named", {
  L <- t(chol(S3))
  expect_snapshot(error = TRUE, {
    dist_wishart(2, L)
    dist_wishart(c(5, 6), L)
    dist_wishart("5", L)
    dist_wishart(-1, L)
    dist_wishart(5, S3)
    dist_wishart(5, matrix(1:6, 2))
    dist_wishart(5, -diag(2))
    dist_wishart(5, c(1, NA))
    dist_wishart(5)
    log_prob(dist_wishart(5, L), diag(2))
  })
  # a tensor df below the bound fails when evaluated
  expect_snapshot(error = TRUE, value_and_grad(function(df) log_prob(dist_wishart(df, L), X3), 1.5))
})

test_that("dist_mvnormal(precision = ): density, gradients and reparameterized draws", {
  P <- solve(S3)
  m <- c(0.5, -1, 2)
  x <- c(0.3, -0.2, 1)
  expect_equal(log_prob(dist_mvnormal(m, precision = P), x), log_prob(dist_mvnormal(m, cov = S3), x), tolerance = 1e-12)
  xm <- rbind(x, x + 1, x - 2)
  expect_equal(log_prob(dist_mvnormal(m, precision = P), xm), log_prob(dist_mvnormal(m, cov = S3), xm), tolerance = 1e-12)
  expect_equal(dist_variance(dist_mvnormal(m, precision = P)), diag(S3))
  B <- t(chol(P))
  expect_grad_matches_fd(function(p) sum(log_prob(dist_mvnormal(p$m, precision = tcross_prod(p$B)), p$x)),
                         list(m = m, B = B, x = xm))
  # draws: covariance solve(P); pathwise gradients through the precision
  set.seed(5)
  z <- dist_sample(dist_mvnormal(m, precision = P), n = 20000)
  expect_lt(max(abs(cov(z) - S3)), 0.08)
  expect_lt(max(abs(colMeans(z) - m)), 0.04)
  W <- matrix(c(1, -1, 0.5), 1)
  f <- function(B) {
    set.seed(6)
    sum(W %*% t(dist_sample(dist_mvnormal(m, precision = tcross_prod(B)), n = 2)))
  }
  expect_grad_matches_fd(f, B)
  expect_snapshot(error = TRUE, {
    dist_mvnormal(m, cov = S3, precision = P)
    dist_mvnormal(m, precision = P + c(0, 1, 0))
    dist_mvnormal(m, precision = -P)
    dist_mvnormal(m, precision = diag(2))
  })
})
