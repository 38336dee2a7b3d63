# The distribution objects: construction checks, printing, moments, shapes and the internal
# API the inference code uses.

test_that("bad parameters are clear errors naming the distribution and the argument", {
  expect_snapshot(error = TRUE, {
    dist_normal(0, -1)
    dist_normal(NA, 1)
    dist_normal("a", 1)
    dist_normal(c(0, 1, 2), c(1, 2))
    dist_gamma(c(1, -2), 1)
    dist_beta(1, numeric(0))
    dist_bernoulli(1.5)
    dist_bernoulli()
    dist_bernoulli(prob = 0.5, logit = 0)
    dist_binomial(2.5, 0.5)
    dist_poisson(-1)
    dist_negative_binomial(2, prob = 0)
    dist_categorical(c(0, 0))
    dist_uniform(1, 1)
    dist_dirichlet(1)
    dist_mvnormal(c(0, 0), cov = diag(3))
    dist_mvnormal(c(0, 0), cov = matrix(c(1, 2, 2, 1), 2))
    dist_mvnormal(c(0, 0), scale_tril = matrix(c(1, 0, 1, 1), 2))
    dist_mvnormal(c(0, 0))
    dist_delta(1, event_dim = 3)
    dist_sample(dist_normal(), n = 0)
    log_prob("normal", 1)
  })
})

test_that("parameters that are tensor handles are checked when used", {
  expect_error(value_and_grad(function(s) log_prob(dist_normal(0, s), 1), -1),
               "`sd` of dist_normal\\(\\) must be positive and finite, got -1")
  expect_error(value_and_grad(function(p) sum(log_prob(dist_beta(p, 1), 0.5)), c(1, 0)),
               "`shape1` of dist_beta\\(\\) must be positive and finite, got 0 \\(at position 2\\)")
  expect_error(value_and_grad(function(p) sum(svi:::dist_draw(dist_gamma(p, 1))), -2),
               "`shape` of dist_gamma\\(\\) must be positive")
  expect_error(log_prob(dist_normal(c(0, 1), 1), c(1, 2, 3)), "shape mismatch")
})

test_that("print and format", {
  expect_snapshot({
    dist_normal(0, 1)
    dist_gamma(c(1, 2, 3), 2)
    nonreparameterized(dist_beta(2, 2))
    dist_bernoulli(logit = 0.3)
    dist_dirichlet(matrix(1, 2, 3))
    dist_mvnormal(c(0, 0), cov = diag(2))
  })
  out <- NULL
  value_and_grad(function(m) {
    out <<- format(dist_normal(m, 1))
    sum(m)
  }, c(1, 2))
  expect_equal(out, "dist_normal(mean = <tensor [2]>, sd = 1)")
})

test_that("means and variances", {
  expect_equal(mean(dist_normal(2, 3)), 2)
  expect_equal(dist_variance(dist_normal(2, 3)), 9)
  expect_equal(mean(dist_gamma(2, 4)), 0.5)
  expect_equal(dist_variance(dist_gamma(2, 4)), 2 / 16)
  expect_equal(mean(dist_beta(2, 6)), 0.25)
  expect_equal(dist_variance(dist_beta(2, 6)), 12 / (64 * 9))
  expect_equal(mean(dist_exponential(4)), 0.25)
  expect_equal(mean(dist_lognormal(0, 1)), exp(0.5))
  expect_equal(mean(dist_uniform(1, 3)), 2)
  expect_equal(dist_variance(dist_laplace(0, 2)), 8)
  expect_equal(mean(dist_half_normal(1)), sqrt(2 / pi))
  expect_true(is.nan(mean(dist_cauchy(0, 1))))
  expect_equal(mean(dist_half_cauchy(1)), Inf)
  expect_equal(mean(dist_student_t(c(0.5, 3), 1, 2)), c(NaN, 1))
  expect_equal(dist_variance(dist_student_t(c(0.5, 1.5, 4), 0, 2)), c(NaN, Inf, 8))
  expect_equal(mean(dist_bernoulli(logit = 0)), 0.5)
  expect_equal(dist_variance(dist_binomial(10, 0.2)), 1.6)
  expect_equal(mean(dist_poisson(c(1, 4))), c(1, 4))
  expect_equal(mean(dist_negative_binomial(2, prob = 0.4)), 3)
  expect_equal(dist_variance(dist_negative_binomial(2, mu = 3)), 3 + 9 / 2)
  expect_equal(mean(dist_dirichlet(c(1, 3))), c(0.25, 0.75))
  expect_equal(mean(dist_dirichlet(rbind(c(1, 3), c(2, 2)))), rbind(c(0.25, 0.75), c(0.5, 0.5)))
  expect_equal(dist_variance(dist_dirichlet(c(1, 3))), c(0.25 * 0.75, 0.75 * 0.25) / 5)
  expect_equal(dist_variance(dist_mvnormal(c(0, 0), cov = matrix(c(2, 1, 1, 3), 2))), c(2, 3))
  expect_equal(mean(dist_delta(c(1, 2))), c(1, 2))
  # on handles the moments are differentiable
  vg <- value_and_grad(function(p) mean(dist_gamma(p[1], p[2])), c(2, 4))
  expect_equal(vg$grad, c(0.25, -2 / 16))
  vg <- value_and_grad(function(a) sum(mean(dist_dirichlet(a)) * c(1, 0, 0)), c(1, 2, 1))
  expect_equal(vg$grad, c(3, -1, -1) / 16)
})

test_that("batch shapes, event dims and expansion", {
  expect_identical(dist_batch_shape(dist_normal(0, 1)), integer(0))
  expect_identical(dist_batch_shape(dist_normal(c(0, 1, 2), 1)), 3L)
  expect_identical(dist_batch_shape(dist_normal(matrix(0, 2, 3), 1)), c(2L, 3L))
  expect_identical(dist_batch_shape(dist_mvnormal(matrix(0, 4, 2), scale_tril = diag(2))), 4L)
  expect_identical(svi:::dist_event_dim(dist_normal(0, 1)), 0L)
  expect_identical(svi:::dist_event_dim(dist_dirichlet(c(1, 1))), 1L)
  expect_identical(svi:::dist_event_dim(dist_mvnormal(c(0, 0), cov = diag(2))), 1L)
  e <- svi:::dist_expand(dist_normal(1, 2), 3L)
  expect_identical(dist_batch_shape(e), 3L)
  expect_equal(log_prob(e, c(1, 2, 3)), dnorm(1:3, 1, 2, log = TRUE))
  e <- svi:::dist_expand(dist_dirichlet(c(1, 2, 3)), c(2L, 4L))
  expect_identical(dist_batch_shape(e), c(2L, 4L))
  expect_equal(dim(dist_sample(e)), c(2L, 4L, 3L))
  e <- svi:::dist_expand(dist_categorical(c(0.5, 0.5)), 5L)
  expect_identical(dist_batch_shape(e), 5L)
  # expansion keeps handles on the tape
  vg <- value_and_grad(function(m) sum(log_prob(svi:::dist_expand(dist_normal(m, 1), 3L), c(0, 1, 2))), 1)
  expect_equal(vg$grad, 0)
  vg <- value_and_grad(function(a) sum(log_prob(svi:::dist_expand(dist_dirichlet(a), 2L), rbind(c(0.5, 0.5), c(0.2, 0.8)))), c(2, 2))
  expect_equal(vg$grad, log(c(0.5 * 0.2, 0.5 * 0.8)) + 2 * (digamma(4) - digamma(2)), tolerance = 1e-12)
})

test_that("dist_draw: numerics outside a tape, a handle on the recording tape", {
  set.seed(1)
  x <- svi:::dist_draw(dist_normal(c(0, 1), 1))
  expect_true(is.numeric(x) && length(x) == 2)
  inside <- NULL
  value_and_grad(function(m) {
    inside <<- is_tensor(svi:::dist_draw(dist_normal(0, 1)))  # numeric parameters, still taped
    m
  }, 1)
  expect_true(inside)
  # the same draws as dist_sample() for the same seed
  set.seed(5); a <- dist_sample(dist_gamma(2, 1))
  set.seed(5); b <- value_and_grad(function(s) svi:::dist_draw(dist_gamma(s, 1)), 2)$value
  expect_equal(a, b)
  # log_prob of numerics is numeric, of handles a handle
  expect_equal(svi:::dist_log_prob(dist_normal(0, 1), 0.5), dnorm(0.5, log = TRUE))
})
