# The correlation-Cholesky bijection, dist_lkj_cholesky(), and an autoguide on a model with a
# correlation-matrix latent.

test_that("constraint_corr_cholesky(): a bijection with the right log-Jacobian and gradients", {
  cc <- constraint_corr_cholesky()
  set.seed(1)
  x <- matrix(0, 4, 4)
  x[lower.tri(x)] <- rnorm(6)
  L <- constraint_forward(cc, x)
  expect_true(constraint_check(cc, L))
  expect_equal(rowSums(L^2), rep(1, 4))
  expect_equal(constraint_inverse(cc, L), x)
  idx <- which(lower.tri(x))
  f <- function(v) {
    xx <- x
    xx[idx] <- v
    constraint_forward(cc, xx)[idx]
  }
  J <- sapply(seq_along(idx), function(k) {
    e <- numeric(length(idx))
    e[k] <- 1e-6
    (f(x[idx] + e) - f(x[idx] - e)) / 2e-6
  })
  expect_equal(constraint_log_det_jacobian(cc, x), log(abs(det(J))), tolerance = 1e-7)
  W <- matrix(rnorm(16), 4)
  fd <- function(fn, at) vapply(seq_along(at), function(k) {
    e <- numeric(length(at))
    e[k] <- 1e-6
    (fn(at + e) - fn(at - e)) / 2e-6
  }, 1)
  fwd <- function(x) sum(W * constraint_forward(cc, x))
  expect_equal(as.vector(value_and_grad(fwd, x)$grad), fd(fwd, x), tolerance = 1e-6)
  ldj <- function(x) constraint_log_det_jacobian(cc, x)
  expect_equal(as.vector(value_and_grad(ldj, x)$grad), fd(ldj, x), tolerance = 1e-6)
  inv <- function(y) sum(W * constraint_inverse(cc, y))
  expect_equal(as.vector(value_and_grad(inv, L)$grad)[idx], fd(inv, L)[idx], tolerance = 1e-6)
})

test_that("dist_lkj_cholesky(): density, normalisation, concentration gradient and draws", {
  # D = 2: the correlation is 2 Beta(eta, eta) - 1
  r <- 0.3
  L2 <- matrix(c(1, r, 0, sqrt(1 - r^2)), 2)
  expect_equal(log_prob(dist_lkj_cholesky(2, 3), L2), dbeta((r + 1) / 2, 3, 3, log = TRUE) - log(2))
  # D = 3: the density with the bijection's Jacobian integrates to 1 over R^3 (importance
  # sampling from N(0, 1.5^2))
  cc <- constraint_corr_cholesky()
  d <- dist_lkj_cholesky(3, 1.5)
  set.seed(3)
  w <- vapply(1:20000, function(k) {
    x <- matrix(0, 3, 3)
    v <- rnorm(3, 0, 1.5)
    x[lower.tri(x)] <- v
    exp(log_prob(d, constraint_forward(cc, x)) + constraint_log_det_jacobian(cc, x) - sum(dnorm(v, 0, 1.5, log = TRUE)))
  }, 1)
  expect_lt(abs(mean(w) - 1), 4 * sd(w) / sqrt(length(w)))
  # the concentration's gradient against finite differences
  L <- constraint_forward(cc, matrix(c(0, 0.4, -0.2, 0, 0, 0.7, 0, 0, 0), 3))
  g <- value_and_grad(function(e) log_prob(dist_lkj_cholesky(3, e), L), 1.5)$grad
  fd <- (log_prob(dist_lkj_cholesky(3, 1.5 + 1e-6), L) - log_prob(dist_lkj_cholesky(3, 1.5 - 1e-6), L)) / 2e-6
  expect_equal(g, fd, tolerance = 1e-6)
  expect_equal(log_prob(d, diag(c(1, -1, 1))), -Inf)
  # draws: every off-diagonal correlation of LKJ(eta) in D dims has variance 1 / (2 eta + D - 1)
  set.seed(4)
  S <- dist_sample(d, n = 4000)
  expect_equal(dim(S), c(4000, 3, 3))
  omega <- t(apply(S, 1, function(l) {
    l <- matrix(l, 3)
    (l %*% t(l))[lower.tri(diag(3))]
  }))
  expect_true(all(abs(colMeans(omega)) < 0.03))
  expect_true(all(abs(apply(omega, 2, var) - 1 / (2 * 1.5 + 2)) < 0.02))
  expect_snapshot({
    dist_lkj_cholesky(1, 1)
    dist_lkj_cholesky(3, -1)
  }, error = TRUE)
})

test_that("auto_normal fits a correlation-matrix latent; its quantiles come from draws", {
  # L ~ LKJ(2, 2), y_n ~ N(0, L L'): the posterior of the correlation r by quadrature
  set.seed(5)
  n <- 40
  Z <- matrix(rnorm(2 * n), n)
  Y <- Z %*% chol(matrix(c(1, 0.6, 0.6, 1), 2))
  model <- function(Y) {
    L <- sample_site("L", dist_lkj_cholesky(2, 2))
    plate("data", nrow(Y), function(i) sample_site("obs", dist_mvnormal(c(0, 0), scale_tril = L), obs = Y))
  }
  rs <- seq(-0.999, 0.999, length.out = 4001)
  lp <- vapply(rs, function(r) {
    S <- matrix(c(1, r, r, 1), 2)
    dbeta((r + 1) / 2, 2, 2, log = TRUE) - n / 2 * log(det(S)) - 0.5 * sum((Y %*% solve(S)) * Y)
  }, 1)
  p <- exp(lp - max(lp))
  r_mean <- sum(p * rs) / sum(p)
  s <- fit_auto(model, auto_normal(model), 5000, list(Y))
  d <- posterior_draws(s, Y, num_samples = 2000)$L
  expect_equal(dim(d), c(2000, 2, 2))
  expect_lt(abs(mean(d[, 2, 1]) - r_mean), 0.03)
  expect_true(constraint_check(constraint_corr_cholesky(), median(s, Y = Y)$L))
  expect_message(q <- quantile(s, c(0.1, 0.9), Y = Y, num_samples = 400), "computed from")
  expect_equal(dim(q$L), c(2, 2, 2))
  # a flattened guide handles it too (one free coordinate)
  s2 <- fit_auto(model, auto_mvnormal(model), 5000, list(Y))
  expect_lt(abs(median(s2, Y = Y)$L[2, 1] - r_mean), 0.05)
})

test_that("matrix sites use only their free coordinates", {
  # lower Cholesky and positive definite: D (D + 1) / 2 free entries; correlation: D (D - 1) / 2
  pd <- constraint_positive_definite()
  S <- matrix(c(2, 0.5, 0.1, 0.5, 1, 0.3, 0.1, 0.3, 1.5), 3)
  site <- list(free = svi:::matrix_free_index(pd, 3), dim = 3L)
  expect_length(site$free, 6)
  u <- constraint_inverse(pd, S)
  v <- u[site$free]
  expect_equal(constraint_forward(pd, svi:::unpack_site(site, v)), S)
  # the map from the free vector is differentiable (a tape op on the handle)
  g <- value_and_grad(function(v) sum(constraint_forward(pd, svi:::unpack_site(site, v))), v)$grad
  expect_length(g, 6)
  expect_length(svi:::matrix_free_index(constraint_corr_cholesky(), 3), 3)
})
