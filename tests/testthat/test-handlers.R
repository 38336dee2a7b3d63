test_that("trace_model records sites with kind, value, plates and log-density", {
  model <- function(y) {
    mu <- sample_site("mu", dist_normal(0, 10))
    plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, 1), obs = y))
  }
  set.seed(1)
  tr <- trace_model(model, c(0.5, 1.5))
  expect_s3_class(tr, "svi_trace")
  expect_equal(names(tr), c("mu", "data", "obs"))
  expect_false(tr$mu$is_observed)
  expect_true(tr$obs$is_observed)
  expect_equal(tr$data$value, 1:2)
  expect_equal(tr$obs$frames[[1]]$name, "data")
  mu <- tr$mu$value
  expect_equal(tr$mu$log_prob_sum, dnorm(mu, 0, 10, log = TRUE), tolerance = 1e-12)
  expect_equal(tr$obs$log_prob, dnorm(c(0.5, 1.5), mu, 1, log = TRUE), tolerance = 1e-12)
})

test_that("condition makes sites observed, block hides them, replay reuses values", {
  model <- function() {
    mu <- sample_site("mu", dist_normal(0, 1))
    sample_site("y", dist_normal(mu, 1))
  }
  tr <- trace_model(condition(model, list(y = 0.3)))
  expect_true(tr$y$is_observed)
  expect_equal(tr$y$value, 0.3)
  expect_equal(names(trace_model(block(model, hide = "y"))), "mu")
  expect_length(trace_model(block(model)), 0)
  set.seed(2)
  tr1 <- trace_model(model)
  tr2 <- trace_model(replay(model, tr1))
  expect_equal(tr2$mu$value, tr1$mu$value)
  expect_equal(tr2$y$value, tr1$y$value)
})

test_that("scale_by and mask_by change the recorded log-density", {
  model <- function(y) plate("d", 3, function(i) sample_site("y", dist_normal(0, 1), obs = y))
  y <- c(0.1, -2, 1)
  base <- dnorm(y, log = TRUE)
  expect_equal(trace_model(scale_by(model, 2.5), y)$y$log_prob, 2.5 * base, tolerance = 1e-12)
  m <- c(TRUE, FALSE, TRUE)
  expect_equal(trace_model(mask_by(model, m), y)$y$log_prob, ifelse(m, base, 0), tolerance = 1e-12)
  expect_snapshot(scale_by(model, 0), error = TRUE)
  expect_snapshot(mask_by(model, c(TRUE, NA)), error = TRUE)
})

test_that("duplicate and clashing site names are errors naming the site", {
  dup <- function() {
    sample_site("x", dist_normal(0, 1))
    sample_site("x", dist_normal(0, 1))
  }
  expect_snapshot(trace_model(dup), error = TRUE)
  clash <- function() {
    param("x", 1)
    sample_site("x", dist_normal(0, 1))
  }
  expect_snapshot(trace_model(clash), error = TRUE)
})

test_that("sample_site outside inference draws, and warns when observing", {
  set.seed(3)
  a <- sample_site("z", dist_normal(0, 1))
  set.seed(3)
  expect_equal(sample_site("z", dist_normal(0, 1)), a)
  expect_snapshot(sample_site("z", dist_normal(0, 1), obs = 2))
  expect_snapshot(sample_site("z", 3), error = TRUE)
  expect_snapshot(sample_site(c("a", "b"), dist_normal(0, 1)), error = TRUE)
})
