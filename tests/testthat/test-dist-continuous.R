# Continuous distributions: log-densities against R's d* functions on grids with extreme
# parameters and boundary values, gradients against finite differences, draws against R's
# p* functions, and reparameterized gradients against analytic derivatives of expectations.

ext <- c(1e-8, 1e-3, 0.5, 1, 3.7, 1e3, 1e8)

test_that("log_prob matches R's density functions to 1e-12 on extreme grids", {
  expect_log_prob_grid(dist_normal, function(x, mean, sd) dnorm(x, mean, sd, log = TRUE),
    x = c(-1e8, -3, 0, 1e-8, 2.5, 1e8, -Inf, Inf), list(mean = c(-1e8, 0, 1.5, 1e8), sd = ext))
  expect_log_prob_grid(dist_lognormal, function(x, meanlog, sdlog) dlnorm(x, meanlog, sdlog, log = TRUE),
    x = c(-1, 0, 1e-8, 0.3, 1, 7, 1e8, Inf), list(meanlog = c(-20, 0, 1.5, 20), sdlog = ext))
  expect_log_prob_grid(dist_half_normal, function(x, scale) dnorm(x, 0, scale, log = TRUE) + log(2) + ifelse(x < 0, -Inf, 0),
    x = c(-1, 0, 1e-8, 0.3, 7, 1e8), list(scale = ext))
  expect_log_prob_grid(dist_cauchy, function(x, location, scale) dcauchy(x, location, scale, log = TRUE),
    x = c(-1e8, -3, 0, 2.5, 1e8, Inf), list(location = c(-1e8, 0, 1.5), scale = ext))
  expect_log_prob_grid(dist_half_cauchy, function(x, scale) dcauchy(x, 0, scale, log = TRUE) + log(2) + ifelse(x < 0, -Inf, 0),
    x = c(-1, 0, 1e-8, 0.3, 7, 1e8), list(scale = ext))
  expect_log_prob_grid(dist_student_t, function(x, df, location, scale) dt((x - location) / scale, df, log = TRUE) - log(scale),
    x = c(-1e3, -3, 0, 2.5, 1e3), list(df = ext, location = c(0, 1.5), scale = c(1e-3, 1, 1e3)))
  expect_log_prob_grid(dist_laplace, function(x, location, scale) -log(2 * scale) - abs(x - location) / scale,
    x = c(-1e8, -3, 0, 2.5, 1e8), list(location = c(-1e3, 0, 1.5), scale = ext))
  expect_log_prob_grid(dist_exponential, function(x, rate) dexp(x, rate, log = TRUE),
    x = c(-1, 0, 1e-8, 0.3, 1, 7, 1e3, 1e8, Inf), list(rate = ext))
  # at shape = x = 1e-8 R's own dgamma loses 8 digits to cancellation: checked separately below
  expect_log_prob_grid(dist_gamma, function(x, shape, rate) dgamma(x, shape, rate, log = TRUE),
    x = c(-1, 0, 1e-8, 0.3, 1, 7, 1e3, 1e8, Inf), list(shape = ext, rate = ext),
    drop = function(g) g$x == 1e-8 & g$shape == 1e-8)
  expect_log_prob_grid(dist_beta, function(x, shape1, shape2) dbeta(x, shape1, shape2, log = TRUE),
    x = c(-0.5, 0, 1e-8, 0.3, 0.5, 0.999, 1 - 1e-8, 1, 2), list(shape1 = ext, shape2 = ext))
  expect_log_prob_grid(function(min, width) dist_uniform(min, min + width),
    function(x, min, width) dunif(x, min, min + width, log = TRUE),
    x = c(-1e3, -1, 0, 0.5, 1, 3, 1e8), list(min = c(-1e3, 0, 1), width = ext))
})

test_that("the gamma density is accurate where R's cancels (tiny shape and value)", {
  # log f = a log(b x) - log(x) + log(a) - b x - lgamma(1 + a), series in a
  a <- 1e-8
  euler <- 0.57721566490153286
  for (b in c(1e-3, 1, 3.7)) {
    truth <- a * log(b * a) - b * a + euler * a - pi^2 / 12 * a^2
    expect_lt(rel_err(log_prob(dist_gamma(a, b), a), truth), 1e-12)
  }
})

test_that("log_prob gradients match finite differences for every input", {
  expect_log_prob_grad(dist_normal, c(-1.2, 0.3, 2), list(mean = c(0.5, -1, 0), sd = c(0.7, 2, 1.3)))
  expect_log_prob_grad(dist_normal, c(-1.2, 0.3, 2), list(mean = 0.4, sd = 1.7))
  expect_log_prob_grad(dist_lognormal, c(0.2, 1.3, 5), list(meanlog = c(0.5, -1, 0), sdlog = c(0.7, 2, 1.3)))
  expect_log_prob_grad(dist_half_normal, c(0.2, 1.3, 5), list(scale = c(0.7, 2, 1.3)))
  expect_log_prob_grad(dist_cauchy, c(-1.2, 0.3, 20), list(location = c(0.5, -1, 0), scale = c(0.7, 2, 1.3)))
  expect_log_prob_grad(dist_half_cauchy, c(0.2, 1.3, 5), list(scale = c(0.7, 2, 1.3)))
  expect_log_prob_grad(dist_student_t, c(-1.2, 0.3, 20), list(df = c(0.8, 3, 40), location = c(0.5, -1, 0), scale = c(0.7, 2, 1.3)))
  expect_log_prob_grad(dist_laplace, c(-1.2, 0.3, 20), list(location = c(0.5, -1, 0), scale = c(0.7, 2, 1.3)))
  expect_log_prob_grad(dist_exponential, c(0.2, 1.3, 5), list(rate = c(0.7, 2, 1.3)))
  expect_log_prob_grad(dist_gamma, c(0.2, 1.3, 5), list(shape = c(0.7, 2, 13), rate = c(0.7, 2, 1.3)))
  expect_log_prob_grad(dist_beta, c(0.2, 0.5, 0.93), list(shape1 = c(0.7, 2, 13), shape2 = c(0.4, 2, 1.3)))
  expect_log_prob_grad(dist_uniform, c(0.2, 0.5, 0.93), list(min = c(0, -1, 0.5), max = c(1, 2, 1.3)), wrt_x = FALSE)
})

test_that("out-of-support values give -Inf with a zero gradient, never NaN", {
  vg <- value_and_grad(function(p) sum(log_prob(dist_gamma(p[1], p[2]), c(-1, -2))), c(2, 3))
  expect_equal(vg$value, -Inf)
  expect_equal(vg$grad, c(0, 0))
  # elementwise: the in-support element keeps its gradient
  vg <- value_and_grad(function(r) sum(log_prob(dist_exponential(r), c(-1, 2))), c(2, 3))
  expect_equal(vg$grad, c(0, 1 / 3 - 2))
  vg <- value_and_grad(function(x) sum(log_prob(dist_beta(2, 3), x)), c(-0.1, 1.5))
  expect_equal(vg$value, -Inf)
  expect_equal(vg$grad, c(0, 0))
  expect_equal(log_prob(dist_exponential(1), -1), -Inf)
  expect_equal(log_prob(dist_lognormal(0, 1), 0), -Inf)
  expect_equal(log_prob(dist_uniform(0, 1), 1.5), -Inf)
})

test_that("draws have the right moments and distribution (1e5 draws, fixed seed)", {
  n <- 1e5
  set.seed(20240601)
  x <- dist_sample(dist_normal(1.5, 2), n); expect_moments(x, 1.5, 4); expect_ks(x, pnorm, 1.5, 2)
  x <- dist_sample(dist_lognormal(0.3, 0.6), n)
  expect_moments(x, exp(0.3 + 0.18), (exp(0.36) - 1) * exp(0.6 + 0.36)); expect_ks(x, plnorm, 0.3, 0.6)
  x <- dist_sample(dist_half_normal(2), n)
  expect_moments(x, 2 * sqrt(2 / pi), 4 * (1 - 2 / pi)); expect_ks(x, function(q) 2 * pnorm(q, 0, 2) - 1)
  x <- dist_sample(dist_cauchy(1, 3), n); expect_ks(x, pcauchy, 1, 3)
  x <- dist_sample(dist_half_cauchy(3), n); expect_ks(x, function(q) 2 * pcauchy(q, 0, 3) - 1)
  x <- dist_sample(dist_student_t(5, 1, 2), n)
  expect_moments(x, 1, 4 * 5 / 3); expect_ks(x, function(q) pt((q - 1) / 2, 5))
  x <- dist_sample(dist_student_t(0.7, 0, 1), n); expect_ks(x, pt, 0.7)
  x <- dist_sample(dist_laplace(1, 2), n)
  expect_moments(x, 1, 8); expect_ks(x, function(q) ifelse(q < 1, 0.5 * exp((q - 1) / 2), 1 - 0.5 * exp(-(q - 1) / 2)))
  x <- dist_sample(dist_exponential(3), n); expect_moments(x, 1 / 3, 1 / 9); expect_ks(x, pexp, 3)
  for (sh in c(0.05, 0.7, 2.5, 300)) {
    x <- dist_sample(dist_gamma(sh, 2), n); expect_moments(x, sh / 2, sh / 4); expect_ks(x, pgamma, sh, 2)
  }
  for (ab in list(c(0.3, 0.5), c(2, 5), c(40, 70))) {
    a <- ab[1]; b <- ab[2]
    x <- dist_sample(dist_beta(a, b), n)
    expect_moments(x, a / (a + b), a * b / ((a + b)^2 * (a + b + 1))); expect_ks(x, pbeta, a, b)
  }
  x <- dist_sample(dist_uniform(-1, 3), n); expect_moments(x, 1, 16 / 12); expect_ks(x, punif, -1, 3)
})

test_that("set.seed() reproduces draws; shapes follow n and the batch", {
  set.seed(7); a <- dist_sample(dist_gamma(c(1, 2, 3), 1), n = 4)
  set.seed(7); b <- dist_sample(dist_gamma(c(1, 2, 3), 1), n = 4)
  expect_identical(a, b)
  expect_equal(dim(a), c(4L, 3L))
  expect_length(dist_sample(dist_normal(0, 1)), 1)
  expect_length(dist_sample(dist_normal(0, 1), n = 5), 5)
  expect_equal(dim(dist_sample(dist_normal(matrix(0, 2, 3), 1))), c(2L, 3L))
  expect_equal(dim(dist_sample(dist_normal(matrix(0, 2, 3), 1), n = 4)), c(4L, 2L, 3L))
  # draw i of batch element j sits at [i, j]
  set.seed(3); x <- dist_sample(dist_normal(c(0, 100), 1), n = 1000)
  expect_true(all(abs(colMeans(x) - c(0, 100)) < 0.2))
})

normal_mean <- function(p, g) integrate_mean(g, function(z) dnorm(z, p$mean, p$sd), -Inf, Inf)
test_that("reparameterized gradients of E[z] and E[z^2] are right (location-scale families)", {
  set.seed(11)
  sq <- function(z) z^2
  id <- function(z) z
  for (g in list(id, sq)) {
    expect_reparam_grad(dist_normal, list(mean = 0.7, sd = 1.3), g, function(p) normal_mean(p, g))
    expect_reparam_grad(dist_lognormal, list(meanlog = 0.2, sdlog = 0.4), g,
      function(p) integrate_mean(g, function(z) dlnorm(z, p$meanlog, p$sdlog), 0, Inf))
    expect_reparam_grad(dist_half_normal, list(scale = 1.6), g,
      function(p) integrate_mean(g, function(z) 2 * dnorm(z, 0, p$scale), 0, Inf))
    expect_reparam_grad(dist_laplace, list(location = -0.4, scale = 1.2), g,
      function(p) integrate_mean(g, function(z) exp(-abs(z - p$location) / p$scale) / (2 * p$scale), -Inf, Inf))
    expect_reparam_grad(dist_exponential, list(rate = 2.5), g,
      function(p) integrate_mean(g, function(z) dexp(z, p$rate), 0, Inf))
    expect_reparam_grad(dist_uniform, list(min = -0.5, max = 2), g,
      function(p) integrate_mean(g, function(z) dunif(z, p$min, p$max), p$min, p$max))
    expect_reparam_grad(dist_student_t, list(df = 7, location = 0.3, scale = 0.8), g,
      function(p) integrate_mean(g, function(z) dt((z - p$location) / p$scale, p$df) / p$scale, -Inf, Inf))
  }
  # heavy tails: E[z] does not exist, so use bounded functions of z
  at <- function(z) tanh(z)
  at2 <- function(z) tanh(z)^2
  for (g in list(at, at2)) {
    expect_reparam_grad(dist_cauchy, list(location = 0.5, scale = 1.5), g,
      function(p) integrate_mean(g, function(z) dcauchy(z, p$location, p$scale), -Inf, Inf))
    expect_reparam_grad(dist_half_cauchy, list(scale = 1.5), g,
      function(p) integrate_mean(g, function(z) 2 * dcauchy(z, 0, p$scale), 0, Inf))
    expect_reparam_grad(dist_student_t, list(df = 1.5, location = 0.3, scale = 0.8), g,
      function(p) integrate_mean(g, function(z) dt((z - p$location) / p$scale, p$df) / p$scale, -Inf, Inf))
  }
})

test_that("implicit reparameterized gradients of gamma and beta draws are right", {
  set.seed(12)
  for (g in list(function(z) z, function(z) z^2)) {
    for (p in list(list(shape = 0.3, rate = 1.5), list(shape = 2.5, rate = 0.7), list(shape = 60, rate = 3))) {
      expect_reparam_grad(dist_gamma, p, g,
        function(p) integrate_mean(g, function(z) dgamma(z, p$shape, p$rate), 0, Inf))
    }
    for (p in list(list(shape1 = 0.4, shape2 = 0.7), list(shape1 = 3, shape2 = 1.5), list(shape1 = 50, shape2 = 20))) {
      expect_reparam_grad(dist_beta, p, g,
        function(p) integrate_mean(g, function(z) dbeta(z, p$shape1, p$shape2), 0, 1))
    }
  }
})

test_that("the implicit gamma derivative equals the derivative of the quantile at fixed u", {
  # z = qgamma(u, a): dz/da at fixed u is what the sampler's backward pass must give. (The
  # finite differences of qgamma are themselves good to ~1e-5 at tiny shapes.)
  for (a in c(1e-3, 0.05, 0.7, 1, 2.5, 30, 5e3, 2e6)) {
    errs <- vapply(1:20, function(i) {
      set.seed(100 + i)
      vg <- value_and_grad(function(s) svi:::dist_draw(dist_gamma(s, 1)), a)
      z <- vg$value
      if (z <= .Machine$double.xmin) return(0)  # clamped to the smallest double: no signal
      u <- pgamma(z, a)
      h <- 1e-5 * a
      fd <- (qgamma(u, a + h) - qgamma(u, a - h)) / (2 * h)
      abs(vg$grad - fd) / abs(fd)
    }, 1)
    expect(all(errs < 1e-4), sprintf("shape %g: worst relative error %.3g", a, max(errs)))
  }
})

test_that("non-reparameterized draws carry no gradient; reparameterized ones do", {
  vg <- value_and_grad(function(p) svi:::dist_draw(dist_normal(p, 1)), 0.5)
  expect_equal(vg$grad, 1)
  vg <- value_and_grad(function(p) svi:::dist_draw(nonreparameterized(dist_normal(p, 1))), 0.5)
  expect_equal(vg$grad, 0)
  expect_false(has_rsample(nonreparameterized(dist_gamma(2, 1))))
  expect_true(has_rsample(dist_beta(2, 1)))
})
