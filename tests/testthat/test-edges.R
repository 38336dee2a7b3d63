# Numerics at the edges of their domains, and early errors for bad counts, scales and stores:
# an answer, or base R's warning, or a clear error, never a silent NaN or a late base-R error.

test_that("logsumexp() with +Inf is Inf, also on the tape, where the gradient goes to the Inf", {
  expect_identical(logsumexp(c(1, Inf)), Inf)
  expect_identical(logsumexp(c(-Inf, -Inf)), -Inf)
  expect_identical(logsumexp(c(Inf, Inf, 0)), Inf)
  expect_true(is.nan(logsumexp(c(1, NaN))))
  expect_identical(logsumexp(matrix(c(1, 2, Inf, 0), 2), margin = 1), c(Inf, log(exp(2) + 1)))
  r <- value_and_grad(function(x) logsumexp(x), c(1, Inf))
  expect_identical(r$value, Inf)
  expect_identical(r$grad, c(0, 1))
  r <- value_and_grad(function(x) logsumexp(x), c(Inf, 3, Inf))
  expect_identical(r$grad, c(0.5, 0, 0.5))
  # rows: the finite row keeps its softmax, the Inf row sends its weight to the Inf
  r <- value_and_grad(function(x) sum(logsumexp(x, margin = 1)), matrix(c(1, 2, Inf, 0), 2))
  w <- exp(c(2, 0)) / sum(exp(c(2, 0)))
  expect_equal(r$grad, matrix(c(0, w[1], 1, w[2]), 2), tolerance = 1e-14)
  # finite inputs: unchanged, and still the finite-difference gradient
  expect_grad_matches_fd(function(x) logsumexp(x), c(0.5, -1, 2))
})

test_that("the gradient of 0^b in b is 0 where 0^b is flat (b > 0), as base R's values say", {
  r <- value_and_grad(function(b) sum(0^b), c(0.5, 2, 3))
  expect_identical(r$value, 0)
  expect_identical(r$grad, c(0, 0, 0))
  r <- value_and_grad(function(x) sum(x$a^x$b), list(a = c(0, 2), b = c(1.5, 1.5)))
  expect_identical(r$grad$b[1], 0)
  expect_equal(r$grad$b[2], 2^1.5 * log(2), tolerance = 1e-14)
  # away from 0: the finite-difference gradient in both arguments
  expect_grad_matches_fd(function(x) sum(x$a^x$b), list(a = c(0.7, 2), b = c(1.5, -0.5)))
})

test_that("logit() outside [0, 1] is NaN with base R's warning, as qlogis()", {
  expect_warning(v <- logit(2), "NaNs produced")
  expect_true(is.nan(v))
  expect_warning(stats::qlogis(2), "NaNs produced")
  expect_no_warning(v <- logit(c(0, 0.3, 1)))
  expect_equal(v, stats::qlogis(c(0, 0.3, 1)), tolerance = 1e-15)
  expect_no_warning(logit(NA_real_))
})

test_that("constraint_inverse() outside the support is an error naming the constraint", {
  expect_snapshot(error = TRUE, {
    constraint_inverse(constraint_positive(), -1)
    constraint_inverse(constraint_unit_interval(), 2)
    constraint_inverse(constraint_interval(0, 1), c(0.5, 3, NA, 4, 5))
  })
  expect_identical(constraint_inverse(constraint_positive(), 1), 0)
  expect_equal(constraint_inverse(constraint_unit_interval(), 0.25), qlogis(0.25))
})

test_that("scale_by() and mask_by() reject non-finite, negative and non-numeric values", {
  m <- function() sample_site("z", dist_normal(0, 1))
  expect_snapshot(error = TRUE, {
    scale_by(m, Inf)
    scale_by(m, -1)
    scale_by(m, c(1, NaN))
    scale_by(m, factor(1))
    mask_by(m, NA)
  })
})

test_that("counts are finite whole numbers within range, checked where they are given", {
  expect_snapshot(error = TRUE, {
    trace_elbo(num_particles = Inf)
    trace_elbo(num_particles = 2.5)
    plate("data", Inf, function(i) i)
    plate("data", 1e308, function(i) i)
    plate("data", 10, function(i) i, subsample_size = NaN)
  })
  s <- svi(function() sample_site("z", dist_normal(0, 1)),
           function() sample_site("z", dist_normal(param("m", 0), 1)), adam(0.01), trace_elbo())
  expect_snapshot(error = TRUE, {
    svi_run(s, num_steps = 10, log_every = 1e308)
    svi_run(s, num_steps = Inf)
    svi_run(s, num_steps = 10, patience = -1)
  })
  expect_identical(s$steps, 0L)
})

test_that("elbo_loss_and_grads() checks its store", {
  m <- function() sample_site("z", dist_normal(0, 1))
  g <- function() sample_site("z", dist_normal(param("m", 0), 1))
  expect_snapshot(error = TRUE, elbo_loss_and_grads(trace_elbo(), m, g, store = list(a = 1)))
})

test_that("bad long values are reported briefly and at once", {
  long <- rep(0.5, 1e7)
  m <- function() sample_site("z", dist_normal(0, 1))
  g <- function() sample_site("z", dist_normal(param("m", 0), 1))
  s <- svi(m, g, adam(0.01), trace_elbo())
  msgs <- list(
    tryCatch(plate("data", long, function(i) i), error = conditionMessage),
    tryCatch(gradient_variance(s, num_samples = long), error = conditionMessage),
    tryCatch(baseline_decaying_avg(beta = long), error = conditionMessage),
    tryCatch(scale_by(m, -long), error = conditionMessage)
  )
  for (msg in msgs) {
    expect_true(is.character(msg))
    expect_lt(nchar(msg), 300)
    expect_match(msg, "10000000\\s+values")
  }
  expect_snapshot(error = TRUE, plate("data", long, function(i) i))
})

test_that("a compiled object whose recordings are all non-finite skips steps as dynamic mode does", {
  m <- function() {
    z <- sample_site("z", dist_normal(0, 1))
    sample_site("y", dist_normal(z, 1), obs = 0)
  }
  # z near 1e300: log p(z) overflows to -Inf, so every loss is Inf
  g <- function() sample_site("z", dist_normal(param("m", 1e300), 1))
  for (compile in c(FALSE, TRUE)) {
    s <- svi(m, g, adam(0.01), trace_elbo(), compile = compile)
    expect_warning(l1 <- svi_step(s), "Skipped a step")
    l <- c(l1, svi_step(s), svi_step(s), svi_step(s))   # warned once per object
    expect_false(any(is.finite(l)))
    expect_identical(s$steps, 0L)
    expect_identical(params(s)$m, 1e300)
  }
})
