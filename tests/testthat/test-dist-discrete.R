# Discrete distributions: log-masses against R's d* functions (extreme grids), gradients with
# respect to the parameters, and draws against the pmf.

test_that("log_prob matches R's mass functions to 1e-12 on extreme grids", {
  counts <- c(-1, 0, 1, 2, 2.5, 7, 100, 1e5, 1e8)
  expect_log_prob_grid(dist_poisson, function(x, lambda) dpois(x, lambda, log = TRUE),
    x = counts, list(lambda = c(0, 1e-8, 1e-3, 0.5, 3.7, 1e3, 1e8)))
  expect_log_prob_grid(function(size, prob) dist_binomial(size, prob = prob),
    function(x, size, prob) dbinom(x, size, prob, log = TRUE),
    x = counts, list(size = c(0, 1, 7, 1e3, 1e8), prob = c(0, 1e-8, 0.3, 0.5, 1 - 1e-8, 1)))
  expect_log_prob_grid(function(size, prob) dist_negative_binomial(size, prob = prob),
    function(x, size, prob) dnbinom(x, size, prob, log = TRUE),
    x = counts, list(size = c(1e-8, 1e-3, 0.5, 3.7, 1e3, 1e8), prob = c(1e-8, 0.3, 0.5, 1 - 1e-8, 1)))
  expect_log_prob_grid(function(size, mu) dist_negative_binomial(size, mu = mu),
    function(x, size, mu) dnbinom(x, size, mu = mu, log = TRUE),
    x = counts, list(size = c(1e-8, 1e-3, 0.5, 3.7, 1e3, 1e8), mu = c(0, 1e-8, 0.5, 3.7, 1e3, 1e8)))
  expect_log_prob_grid(function(prob) dist_bernoulli(prob = prob),
    function(x, prob) dbinom(x, 1, prob, log = TRUE),
    x = c(-1, 0, 0.5, 1, 2), list(prob = c(0, 1e-8, 0.3, 1 - 1e-8, 1)))
  # logits: R's exact log-sigmoid as the reference (plogis() then log() rounds near 1)
  expect_log_prob_grid(function(logit) dist_bernoulli(logit = logit),
    function(x, logit) ifelse(x == 1, plogis(logit, log.p = TRUE), ifelse(x == 0, plogis(-logit, log.p = TRUE), -Inf)),
    x = c(-1, 0, 1, 2), list(logit = c(-700, -30, -3, 0, 2, 30, 700)))
  expect_log_prob_grid(function(size, logit) dist_binomial(size, logit = logit),
    function(x, size, logit) dbinom(x, size, plogis(logit), log = TRUE),
    x = c(-1, 0, 1, 2, 7, 100), list(size = c(1, 7, 1e3), logit = c(-3, 0, 2)))
})

test_that("categorical log_prob matches dmultinom for one draw, prob or logit, batched", {
  p <- c(0.2, 0.5, 0.3, 1e-8)
  for (k in 1:4) {
    x <- replace(numeric(4), k, 1)
    expect_lt(rel_err(log_prob(dist_categorical(p), k), dmultinom(x, prob = p, log = TRUE)), 1e-12)
    expect_lt(rel_err(log_prob(dist_categorical(prob = p * 7), k), dmultinom(x, prob = p, log = TRUE)), 1e-12)
    expect_lt(rel_err(log_prob(dist_categorical(logit = log(p) + 3), k), dmultinom(x, prob = p, log = TRUE)), 1e-12)
  }
  expect_equal(log_prob(dist_categorical(p), c(0, 5, 1.5)), rep(-Inf, 3))
  pm <- rbind(c(0.1, 0.9), c(0.6, 0.4), c(0.5, 0.5))
  expect_equal(log_prob(dist_categorical(pm), c(2, 1, 2)), log(c(0.9, 0.6, 0.5)))
  expect_equal(dist_batch_shape(dist_categorical(pm)), 3L)
  expect_equal(log_prob(dist_categorical(c(0.25, 0.75)), c(1, 2, 2)), log(c(0.25, 0.75, 0.75)))
})

test_that("gradients with respect to the parameters match finite differences", {
  x <- c(0, 3, 7)
  expect_log_prob_grad(dist_poisson, x, list(lambda = c(0.7, 2, 13)), wrt_x = FALSE)
  expect_log_prob_grad(function(prob) dist_binomial(8, prob = prob), x,
                       list(prob = c(0.2, 0.5, 0.9)), wrt_x = FALSE)
  expect_log_prob_grad(function(logit) dist_binomial(9, logit = logit), x,
                       list(logit = c(-1, 0.5, 2)), wrt_x = FALSE)
  expect_log_prob_grad(function(size, prob) dist_negative_binomial(size, prob = prob), x,
                       list(size = c(0.7, 2, 13), prob = c(0.2, 0.5, 0.9)), wrt_x = FALSE)
  expect_log_prob_grad(function(size, mu) dist_negative_binomial(size, mu = mu), x,
                       list(size = c(0.7, 2, 13), mu = c(0.2, 5, 9)), wrt_x = FALSE)
  expect_log_prob_grad(function(prob) dist_bernoulli(prob = prob), c(0, 1, 1),
                       list(prob = c(0.2, 0.5, 0.9)), wrt_x = FALSE)
  expect_log_prob_grad(function(logit) dist_bernoulli(logit = logit), c(0, 1, 1),
                       list(logit = c(-2, 0.5, 3)), wrt_x = FALSE)
  # categorical: gradient with respect to each probability / logit of a batch
  pm <- rbind(c(0.1, 0.6, 0.3), c(0.2, 0.2, 0.6))
  f <- function(p) sum(log_prob(dist_categorical(prob = p), c(2, 3)))
  g <- value_and_grad(f, pm)$grad
  fd <- pm * 0
  for (i in seq_along(pm)) { e <- replace(pm * 0, i, 1e-6); fd[i] <- (f(pm + e) - f(pm - e)) / 2e-6 }
  expect_equal(g, fd, tolerance = 1e-6)
  f <- function(l) sum(log_prob(dist_categorical(logit = l), c(2, 3)))
  g <- value_and_grad(f, log(pm))$grad
  for (i in seq_along(pm)) { e <- replace(pm * 0, i, 1e-6); fd[i] <- (f(log(pm) + e) - f(log(pm) - e)) / 2e-6 }
  expect_equal(g, fd, tolerance = 1e-6)
})

test_that("draws follow the pmf (1e5 draws, chi-squared) with the right moments", {
  n <- 1e5
  set.seed(20240602)
  x <- dist_sample(dist_poisson(3.5), n); expect_moments(x, 3.5, 3.5); expect_chisq(x, function(k) dpois(k, 3.5), 0:40)
  x <- dist_sample(dist_binomial(12, prob = 0.3), n)
  expect_moments(x, 3.6, 12 * 0.21); expect_chisq(x, function(k) dbinom(k, 12, 0.3), 0:12)
  x <- dist_sample(dist_binomial(12, logit = qlogis(0.3)), n); expect_chisq(x, function(k) dbinom(k, 12, 0.3), 0:12)
  x <- dist_sample(dist_bernoulli(0.3), n); expect_moments(x, 0.3, 0.21); expect_chisq(x, function(k) dbinom(k, 1, 0.3), 0:1)
  x <- dist_sample(dist_bernoulli(logit = -1), n); expect_chisq(x, function(k) dbinom(k, 1, plogis(-1)), 0:1)
  x <- dist_sample(dist_negative_binomial(2.5, prob = 0.4), n)
  expect_moments(x, 2.5 * 0.6 / 0.4, 2.5 * 0.6 / 0.16); expect_chisq(x, function(k) dnbinom(k, 2.5, 0.4), 0:200)
  x <- dist_sample(dist_negative_binomial(2.5, mu = 4), n)
  expect_moments(x, 4, 4 + 16 / 2.5); expect_chisq(x, function(k) dnbinom(k, 2.5, mu = 4), 0:200)
  p <- c(0.1, 0.2, 0.3, 0.4)
  x <- dist_sample(dist_categorical(p), n); expect_chisq(x, function(k) p[k], 1:4)
  x <- dist_sample(dist_categorical(logit = log(p)), n); expect_chisq(x, function(k) p[k], 1:4)
  # batched categorical: each row its own distribution, draws along the leading dim
  x <- dist_sample(dist_categorical(rbind(c(1, 0, 0), c(0, 0, 1))), n = 5)
  expect_equal(x, cbind(rep(1, 5), rep(3, 5)))
})

test_that("discrete draws have no gradient and are never reparameterized", {
  expect_false(has_rsample(dist_poisson(2)))
  expect_false(has_rsample(dist_categorical(c(0.5, 0.5))))
  vg <- value_and_grad(function(l) svi:::dist_draw(dist_poisson(l)) + 0 * l, 3)
  expect_equal(vg$grad, 0)
})
