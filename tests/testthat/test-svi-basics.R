nn_model <- function(y) {
  mu <- sample_site("mu", dist_normal(0, 10))
  plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, 1), obs = y))
}
nn_guide <- function(y) {
  loc <- param("loc", 0)
  scale <- param("scale", 1, constraint = constraint_positive())
  sample_site("mu", dist_normal(loc, scale))
}
y_nn <- c(2.1, 3.4, 2.9, 3.3)

test_that("svi_step returns the loss, updates parameters; set.seed reproduces the sequence", {
  run <- function() {
    set.seed(42)
    s <- svi(nn_model, nn_guide, adam(lr = 0.05), trace_elbo())
    vapply(1:20, function(i) svi_step(s, y_nn), 1)
  }
  a <- run()
  b <- run()
  expect_identical(a, b)
  expect_true(all(is.finite(a)))
  set.seed(43)
  s <- svi(nn_model, nn_guide, adam(lr = 0.05), trace_elbo())
  svi_step(s, y_nn)
  p <- params(s)
  expect_named(p, c("loc", "scale"), ignore.order = TRUE)
  expect_true(p$loc > 0)    # moved towards the data from 0
  expect_true(p$scale > 0)
  expect_equal(s$store$values$scale, log(p$scale))
})

test_that("evaluate_loss changes nothing and estimates the same loss as svi_step", {
  set.seed(1)
  s <- svi(nn_model, nn_guide, adam(lr = 0.05), trace_elbo())
  svi_step(s, y_nn)
  before <- s$store$values
  st <- as.list(s$optim_state)
  losses <- vapply(1:400, function(i) evaluate_loss(s, y_nn), 1)
  expect_identical(s$store$values, before)
  expect_identical(as.list(s$optim_state), st)
  # closed-form negative ELBO at the current parameters
  p <- params(s)
  m <- p$loc
  v <- p$scale^2
  elbo <- sum(dnorm(y_nn, m, 1, log = TRUE)) - length(y_nn) * v / 2 +
    dnorm(m, 0, 10, log = TRUE) - v / 200 + 0.5 * log(2 * pi * exp(1) * v)
  expect_lt(abs(mean(losses) + elbo), 4 * sd(losses) / sqrt(length(losses)))
})

test_that("each svi object owns its store, and a store can be shared explicitly", {
  s1 <- svi(nn_model, nn_guide, adam(lr = 0.1), trace_elbo())
  s2 <- svi(nn_model, nn_guide, adam(lr = 0.1), trace_elbo())
  set.seed(1)
  svi_step(s1, y_nn)
  expect_length(params(s2), 0)
  s3 <- svi(nn_model, nn_guide, adam(lr = 0.1), trace_elbo(), store = s1$store)
  expect_equal(params(s3), params(s1))
})

test_that("param() initialises once (init may be a function) and keeps its constraint", {
  calls <- 0
  guide <- function() {
    s <- param("s", function() { calls <<- calls + 1; 2 }, constraint = constraint_positive())
    sample_site("z", dist_normal(0, s))
  }
  model <- function() sample_site("z", dist_normal(0, 1))
  set.seed(1)
  s <- svi(model, guide, adam(lr = 0.01), trace_elbo())
  for (i in 1:3) svi_step(s)
  expect_equal(calls, 1)
  expect_true(params(s)$s > 0)
  expect_snapshot(svi_step(svi(model, function() sample_site("z", dist_normal(param("s", -1, constraint_positive()), 1)), adam(), trace_elbo())), error = TRUE)
})

test_that("a failing step leaves the store as it was; a non-finite step is skipped with one warning", {
  set.seed(1)
  s <- svi(nn_model, nn_guide, adam(lr = 0.05), trace_elbo())
  svi_step(s, y_nn)
  before <- s$store$values
  bad_guide <- function(y) {
    param("new_one", 1)
    stop("boom")
  }
  s2 <- svi(nn_model, bad_guide, adam(), trace_elbo(), store = s$store)
  expect_error(svi_step(s2, y_nn), "boom")
  expect_identical(s$store$values, before)

  nan_model <- function(y) {
    mu <- sample_site("mu", dist_normal(0, 10))
    plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, 1), obs = y))
    sample_site("w", dist_normal(0, 1), obs = 1e308 * 10)
  }
  s3 <- svi(nan_model, nn_guide, adam(), trace_elbo(), store = s$store)
  expect_snapshot({
    l1 <- svi_step(s3, y_nn)
    l2 <- svi_step(s3, y_nn)
  })
  expect_false(is.finite(l1))
  expect_identical(s$store$values, before)
})

test_that("svi() checks its arguments", {
  expect_snapshot(svi(1, nn_guide, adam(), trace_elbo()), error = TRUE)
  expect_snapshot(svi(nn_model, nn_guide, list(lr = 1), trace_elbo()), error = TRUE)
  expect_snapshot(svi(nn_model, nn_guide, adam(), "elbo"), error = TRUE)
  expect_snapshot(trace_elbo(num_particles = 0), error = TRUE)
  expect_snapshot(svi_step(list()), error = TRUE)
})
