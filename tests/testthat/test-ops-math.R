# The Math group and svi's own elementwise functions: gradients, values, extreme inputs.

test_that("Math functions match finite differences on vectors and matrices", {
  set.seed(21)
  fns <- list(
    exp = list(exp, -2, 2), log = list(log, 0.2, 3), sqrt = list(sqrt, 0.2, 3),
    abs = list(abs, 0.2, 3), abs_neg = list(abs, -3, -0.2), log1p = list(log1p, -0.5, 3),
    expm1 = list(expm1, -2, 2), tanh = list(tanh, -2, 2), sin = list(sin, -3, 3),
    cos = list(cos, -3, 3), lgamma = list(lgamma, 0.2, 8), digamma = list(digamma, 0.2, 8),
    cumsum = list(cumsum, -2, 2), log2 = list(log2, 0.2, 3), log10 = list(log10, 0.2, 3),
    log_base = list(function(x) log(x, 3), 0.2, 3),
    softplus = list(softplus, -5, 5), log_sigmoid = list(log_sigmoid, -5, 5),
    sigmoid = list(sigmoid, -5, 5), logit = list(logit, 0.05, 0.95)
  )
  for (nm in names(fns)) {
    fn <- fns[[nm]][[1]]
    lo <- fns[[nm]][[2]]
    hi <- fns[[nm]][[3]]
    w <- rnorm(6)
    expect_grad_matches_fd(function(x) sum(fn(x) * w), rin(6, lo, hi))
    expect_grad_matches_fd(function(x) sum(fn(x) * w), rin(6, lo, hi, c(3, 2)))
  }
})

test_that("Math functions on handles give base R's values", {
  set.seed(22)
  x <- rin(5, 0.1, 4)
  value_and_grad(function(h) {
    for (fn in list(exp, log, sqrt, abs, log1p, expm1, tanh, sin, cos, lgamma, digamma, cumsum)) {
      expect_equal(tensor_value(fn(h)), fn(x), tolerance = 1e-14)
    }
    expect_equal(tensor_value(softplus(h)), log1p(exp(x)), tolerance = 1e-14)
    expect_equal(tensor_value(sigmoid(h)), plogis(x), tolerance = 1e-14)
    expect_equal(tensor_value(log_sigmoid(h)), plogis(x, log.p = TRUE), tolerance = 1e-14)
    expect_equal(tensor_value(logit(h / 5)), qlogis(x / 5), tolerance = 1e-14)
    sum(h)
  }, x)
})

test_that("softplus & co. work on plain numerics and keep attributes", {
  x <- c(a = -800, b = -1, c = 0, d = 2, e = 800)
  expect_equal(softplus(x), c(a = 0, b = log1p(exp(-1)), c = log(2), d = log1p(exp(2)), e = 800))
  expect_equal(log_sigmoid(x), plogis(x, log.p = TRUE))
  expect_equal(sigmoid(x), plogis(x))
  p <- c(0, 1e-300, 0.2, 0.5, 0.9, 1)
  expect_equal(logit(p), qlogis(p))
  m <- matrix(c(-1, 0, 1, NA), 2)
  expect_identical(dim(sigmoid(m)), c(2L, 2L))
  expect_true(is.na(sigmoid(m)[2, 2]))
  expect_equal(softplus(1:3), log1p(exp(1:3)))
  expect_snapshot(softplus("a"), error = TRUE)
})

test_that("extreme inputs give finite, correct gradients", {
  # softplus' = sigmoid, log_sigmoid' = sigmoid(-x), log1p' = 1 / (1 + x)
  x <- c(-700, -1, 0, 1, 700)
  r <- value_and_grad(function(x) sum(softplus(x)), x)
  expect_equal(r$value, sum(log1p(exp(x[1:4]))) + 700)
  expect_equal(r$grad, plogis(x))
  r <- value_and_grad(function(x) sum(log_sigmoid(x)), x)
  expect_equal(r$value, sum(plogis(x, log.p = TRUE)))
  expect_equal(r$grad, plogis(-x))
  expect_true(all(is.finite(r$grad)))
  r <- value_and_grad(function(x) sum(sigmoid(x)), x)
  expect_equal(r$grad, plogis(x) * plogis(-x))
  tiny <- c(1e-300, 700)
  r <- value_and_grad(function(x) sum(log1p(x)), tiny)
  expect_equal(r$value, 1e-300 + log1p(700))
  expect_equal(r$grad, 1 / (1 + tiny))
  r <- value_and_grad(function(x) sum(log(x)), tiny)
  expect_equal(r$grad, 1 / tiny)
  expect_true(all(is.finite(r$grad)))
  r <- value_and_grad(function(x) sum(logit(x)), c(1e-300, 0.5))
  expect_true(all(is.finite(r$grad)))
  expect_equal(r$grad, 1 / (c(1e-300, 0.5) * (1 - c(1e-300, 0.5))))
})

test_that("lgamma and digamma are accurate over their range", {
  x <- c(1e-300, 0.01, 0.5, 1, 2, 6, 10, 1e5, -0.5, -2.3)
  expect_equal(value_and_grad(function(x) sum(lgamma(x)), x[x > 0])$grad, digamma(x[x > 0]), tolerance = 1e-14)
  g <- value_and_grad(function(x) sum(digamma(x)), x[-1])$grad
  expect_equal(g, trigamma(x[-1]), tolerance = 1e-13)
})

test_that("NaN made outside a function's domain warns, naming the function and the position", {
  expect_warning(value_and_grad(function(x) sum(log(x)), c(1, -1, 2)),
                 "NaNs produced by `log\\(\\)` on a tensor handle \\(first at position 2\\)")
  expect_warning(value_and_grad(function(x) sqrt(x), -4), "NaNs produced by `sqrt\\(\\)`")
  expect_warning(value_and_grad(function(x) sum(logit(x)), c(0.5, 2)), "logit")
  expect_no_warning(value_and_grad(function(x) sum(log(x) + sqrt(x) + log1p(x)), c(1, 2)))
  expect_no_warning(value_and_grad(function(x) sum(log(x)), c(0, 1)))   # -Inf, as in R
})
