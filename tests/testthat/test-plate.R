test_that("plate passes indices, scales by size / subsample_size and nests", {
  seen <- NULL
  model <- function(y) {
    plate("data", 10, subsample_size = 4, function(i) {
      seen <<- i
      sample_site("obs", dist_normal(0, 1), obs = y[i])
    })
  }
  y <- seq(-1, 1, length.out = 10)
  set.seed(1)
  tr <- trace_model(model, y)
  expect_length(seen, 4)
  expect_true(all(seen %in% 1:10))
  expect_equal(tr$obs$scale, 10 / 4)
  expect_equal(tr$obs$log_prob, 2.5 * dnorm(y[seen], log = TRUE), tolerance = 1e-12)

  nested <- function() {
    plate("a", 3, function(i) plate("b", 2, function(j) sample_site("z", dist_normal(0, 1))))
  }
  tr <- trace_model(nested)
  expect_equal(dim(tr$z$value), c(3L, 2L))
  expect_equal(vapply(tr$z$frames, function(f) f$name, ""), c("a", "b"))
})

test_that("the model replays the guide's minibatch", {
  model <- function(y) {
    mu <- sample_site("mu", dist_normal(0, 1))
    plate("data", length(y), subsample_size = 3, function(i) sample_site("obs", dist_normal(mu, 1), obs = y[i]))
  }
  guide <- function(y) {
    plate("data", length(y), subsample_size = 3, function(i) NULL)
    sample_site("mu", dist_normal(0.5, 1))
  }
  set.seed(4)
  y <- rnorm(20)
  g <- run_traced(guide, list(y))
  m <- trace_model(replay(model, g$sites), y)
  expect_length(m$data$value, 3)
  expect_equal(m$data$value, g$sites$data$value)
  expect_equal(m$mu$value, g$sites$mu$value)
  expect_equal(m$obs$log_prob, 20 / 3 * dnorm(y[g$sites$data$value], m$mu$value, 1, log = TRUE),
               tolerance = 1e-12)
})

test_that("plate misuse is a clear error", {
  expect_snapshot(plate("p", 0, function(i) i), error = TRUE)
  expect_snapshot(plate("p", 2.5, function(i) i), error = TRUE)
  expect_snapshot(plate("p", 3, function(i) i, subsample = c(1, 5)), error = TRUE)
  expect_snapshot(plate("p", 3, function(i) plate("p", 2, function(j) j)), error = TRUE)
  bad <- function() plate("p", 3, function(i) sample_site("z", dist_normal(c(0, 1), 1)))
  expect_snapshot(trace_model(bad), error = TRUE)
})

test_that("minibatches are sample.int()'s draws for the same seed, at O(k) cost", {
  set.seed(3)
  a <- plate("big", 1e6, subsample_size = 500, function(i) i)
  set.seed(3)
  expect_identical(as.integer(a), sample.int(1e6, 500))
  set.seed(9)
  a <- plate("small", 20, subsample_size = 19, function(i) i)
  set.seed(9)
  expect_identical(as.integer(a), sample.int(20, 19))
  expect_identical(plate("all", 5, function(i) i), 1:5)
})

test_that("evaluate_loss() on nested plates with score-function sites equals the step's estimate", {
  # x in plate a, y in plates a > b, both Bernoulli (score-function terms, Rao-Blackwellized
  # onto each guide site's plates): the untaped path once failed ("non-conformable arrays")
  model <- function() {
    plate("a", 2, function(i) {
      sample_site("x", dist_bernoulli(0.5))
      plate("b", 3, function(j) sample_site("y", dist_bernoulli(0.5)))
    })
  }
  guide <- function() {
    q <- param("q", 0.3, constraint_unit_interval())
    plate("a", 2, function(i) {
      sample_site("x", dist_bernoulli(q))
      plate("b", 3, function(j) sample_site("y", dist_bernoulli(q)))
    })
  }
  s <- svi(model, guide, adam(), trace_elbo())
  set.seed(3)
  a <- evaluate_loss(s)
  set.seed(3)
  b <- elbo_loss_and_grads(trace_elbo(), model, guide, store = s$store)$loss
  expect_equal(a, b, tolerance = 1e-12)
  # its mean is 8 KL(Bernoulli(0.3) || Bernoulli(0.5)) (2 x's and 6 y's), within 4 SE
  set.seed(4)
  losses <- replicate(2000, evaluate_loss(s))
  kl <- 0.3 * log(0.3 / 0.5) + 0.7 * log(0.7 / 0.5)
  expect_lt(abs(mean(losses) - 8 * kl), 4 * sd(losses) / sqrt(length(losses)))
  expect_equal(s$steps, 0L)
})
