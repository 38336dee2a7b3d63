# Compiled mode: the same losses as the dynamic mode for the same seed, and clear errors when
# the structure is not static.
skip_on_cran()

same_losses <- function(model, guide, args, steps = 1000, loss = trace_elbo(), optim = adam(lr = 0.01)) {
  force(args)  # draw any data before the seeded runs
  run <- function(compile) {
    set.seed(123)
    s <- svi(model, guide, optim, loss, compile = compile)
    if (compile) {
      out <- svi:::compiled_steps(s, args, steps)
    } else {
      out <- vapply(seq_len(steps), function(i) do.call(svi_step, c(list(s), args)), 1)
    }
    list(losses = as.vector(out), params = params(s))
  }
  d <- run(FALSE)
  c <- run(TRUE)
  expect_length(c$losses, steps)
  expect_equal(c$losses, d$losses, tolerance = 1e-12)
  expect_equal(c$params, d$params, tolerance = 1e-12)
}

test_that("normal_normal: compiled and dynamic losses agree over 1000 steps", {
  model <- function(y) {
    mu <- sample_site("mu", dist_normal(0, 10))
    plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, 1), obs = y))
  }
  guide <- function(y) {
    sample_site("mu", dist_normal(param("loc", 0), param("scale", 1, constraint = constraint_positive())))
  }
  set.seed(1)
  same_losses(model, guide, list(rnorm(100, 3)))
})

test_that("logistic regression and its minibatched version agree over 1000 steps", {
  set.seed(0)
  X <- matrix(rnorm(300 * 4), 300, 4)
  y <- as.numeric(runif(300) < plogis(X %*% c(1, -1, 0.5, 0)))
  guide <- function(X, y) {
    sample_site("w", dist_normal(param("w_loc", numeric(4)),
                                 param("w_scale", rep(0.1, 4), constraint = constraint_positive())))
    sample_site("b", dist_normal(param("b_loc", 0), param("b_scale", 0.1, constraint = constraint_positive())))
  }
  full <- function(X, y) {
    w <- sample_site("w", dist_normal(numeric(4), 1))
    b <- sample_site("b", dist_normal(0, 5))
    plate("data", nrow(X), function(i) sample_site("y", dist_bernoulli(logit = X %*% w + b), obs = y))
  }
  same_losses(full, guide, list(X, y))
  mini <- function(X, y) {
    w <- sample_site("w", dist_normal(numeric(4), 1))
    b <- sample_site("b", dist_normal(0, 5))
    plate("data", nrow(X), subsample_size = 50, function(i) {
      sample_site("y", dist_bernoulli(logit = X[i, ] %*% w + b), obs = y[i])
    })
  }
  same_losses(mini, guide, list(X, y))
  # a matrix over 4 MB: replayed row gathers read a row-major copy (see rows_cached())
  X <- matrix(rnorm(30000 * 20), 30000, 20)
  y <- as.numeric(runif(30000) < plogis(X[, 1:4] %*% c(1, -1, 0.5, 0)))
  guide20 <- function(X, y) {
    sample_site("w", dist_normal(param("w_loc", numeric(20)),
                                 param("w_scale", rep(0.1, 20), constraint = constraint_positive())))
  }
  mini20 <- function(X, y) {
    w <- sample_site("w", dist_normal(numeric(20), 1))
    plate("data", nrow(X), subsample_size = 200, function(i) {
      sample_site("y", dist_bernoulli(logit = X[i, ] %*% w), obs = y[i])
    })
  }
  same_losses(mini20, guide20, list(X, y), steps = 100)
})

test_that("eight schools (half-Cauchy, LogNormal guide) agrees over 1000 steps", {
  y <- c(28, 8, -3, 7, -1, 1, 18, 12)
  sigma <- c(15, 10, 16, 11, 9, 11, 10, 18)
  model <- function(y, sigma) {
    mu <- sample_site("mu", dist_normal(0, 5))
    tau <- sample_site("tau", dist_half_cauchy(5))
    plate("schools", 8, function(j) {
      eta <- sample_site("eta", dist_normal(0, 1))
      sample_site("y", dist_normal(mu + tau * eta, sigma), obs = y)
    })
  }
  guide <- function(y, sigma) {
    sample_site("mu", dist_normal(param("mu_loc", 0), param("mu_scale", 1, constraint = constraint_positive())))
    sample_site("tau", dist_lognormal(param("tau_loc", 0), param("tau_scale", 1, constraint = constraint_positive())))
    plate("schools", 8, function(j) {
      sample_site("eta", dist_normal(param("eta_loc", numeric(8)),
                                     param("eta_scale", rep(1, 8), constraint = constraint_positive())))
    })
  }
  same_losses(model, guide, list(y, sigma))
})

test_that("a mixture with discrete assignments under tracegraph_elbo and baselines agrees over 1000 steps", {
  set.seed(4)
  x <- c(rnorm(25, -2), rnorm(25, 2))
  model <- function(x) {
    locs <- sample_site("locs", dist_normal(c(0, 0), 5))
    plate("data", length(x), function(i) {
      z <- sample_site("z", dist_bernoulli(0.5))
      sample_site("x", dist_normal(locs[1] * (1 - z) + locs[2] * z, 1), obs = x)
    })
  }
  guide <- function(x) {
    sample_site("locs", dist_normal(param("m", c(-1, 1)), param("s", c(1, 1), constraint = constraint_positive())))
    plate("data", length(x), function(i) {
      sample_site("z", dist_bernoulli(logit = param("l", numeric(length(x)))),
                  infer = list(baseline = baseline_decaying_avg(0.9)))
    })
  }
  same_losses(model, guide, list(x), loss = tracegraph_elbo())
})

test_that("meanfield_elbo agrees", {
  model <- function(y) {
    mu <- sample_site("mu", dist_normal(0, 10))
    plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, 1), obs = y))
  }
  guide <- function(y) {
    sample_site("mu", dist_normal(param("loc", 0), param("scale", 1, constraint = constraint_positive())))
  }
  same_losses(model, guide, list(c(1, 2, 3)), steps = 300, loss = meanfield_elbo())
})

test_that("a structure that changes between steps is an error naming the site", {
  guide <- function() sample_site("a", dist_normal(param("m", 0), 1))
  k <- 0
  grows <- function() {
    k <<- k + 1
    sample_site("a", dist_normal(0, 1))
    if (k > 1) sample_site("extra", dist_normal(0, 1), obs = 0.5)
  }
  s <- svi(grows, guide, adam(), trace_elbo(), compile = TRUE)
  svi_step(s)
  expect_snapshot(svi_step(s), error = TRUE)

  n <- 2
  reshapes <- function() {
    n <<- n + 1
    sample_site("a", dist_normal(0, 1))
    plate("p", n, function(i) sample_site("y", dist_normal(0, 1), obs = numeric(n)))
  }
  s <- svi(reshapes, guide, adam(), trace_elbo(), compile = TRUE)
  svi_step(s)
  expect_snapshot(svi_step(s), error = TRUE)

  peeks <- function() {
    a <- sample_site("a", dist_normal(0, 1))
    if (tensor_value(a) > 0) sample_site("y", dist_normal(a, 1), obs = 1)
  }
  s <- svi(peeks, guide, adam(), trace_elbo(), compile = TRUE)
  expect_snapshot(svi_step(s), error = TRUE)
})

test_that("new data re-records; parameters and optimizer state carry over", {
  model <- function(y) {
    mu <- sample_site("mu", dist_normal(0, 10))
    plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, 1), obs = y))
  }
  guide <- function(y) sample_site("mu", dist_normal(param("loc", 0), 1))
  set.seed(1)
  s <- svi(model, guide, adam(lr = 0.1), trace_elbo(), compile = TRUE)
  for (i in 1:5) svi_step(s, c(1, 2))
  expect_false(is.null(s$program))
  for (i in 1:5) svi_step(s, c(1, 2, 3))
  expect_equal(s$steps, 10L)
  expect_equal(s$optim_state$params$loc$step, 10)
})
