# %*%, t(), cross_prod(), tcross_prod(): gradients and R's conventions for vectors.

test_that("the issue's example is right", {
  set.seed(1)
  x <- matrix(rnorm(6), 2)
  f <- function(x) sum(log1p(exp(x %*% t(x))))
  r <- value_and_grad(f, x)
  expect_equal(r$value, f(x))
  # analytic: d/dX sum(softplus(X X')) = (S + S') X with S = sigmoid(X X')
  s <- plogis(x %*% t(x))
  expect_equal(r$grad, (s + t(s)) %*% x)
  expect_grad_matches_fd(f, x)
})

test_that("%*% matches finite differences for every operand shape", {
  set.seed(41)
  a <- rin(6, dim = c(2, 3))
  b <- rin(12, dim = c(3, 4))
  expect_grad_matches_fd(function(p) sum((p$a %*% p$b) * matrix(1:8, 2)), list(a = a, b = b))
  expect_grad_matches_fd(function(x) sum(x %*% b), a)                    # handle %*% numeric
  expect_grad_matches_fd(function(x) sum(a %*% x), b)                    # numeric %*% handle
  expect_grad_matches_fd(function(x) sum((a %*% x)^2), rin(3))           # matrix %*% vector
  expect_grad_matches_fd(function(x) sum((x %*% a)^2), rin(2))           # vector %*% matrix
  expect_grad_matches_fd(function(x) x %*% c(1, 2, 3), rin(3))           # inner product
  expect_grad_matches_fd(function(x) sum((x %*% t(x))^2), rin(3))        # outer product
  expect_grad_matches_fd(function(p) sum(p$s %*% p$v), list(s = 0.7, v = rin(3)))
})

test_that("%*% and t() give R's values and shapes", {
  a <- matrix(1:6 / 2, 2)
  v <- c(1, -1, 2)
  value_and_grad(function(x) {
    expect_equal(tensor_value(x %*% v), a %*% v)
    expect_equal(tensor_value(t(x)), t(a))
    expect_equal(tensor_value(t(x[1, ])), t(a[1, ]))
    expect_equal(tensor_value(x[1, ] %*% v), a[1, ] %*% v)
    expect_equal(tensor_value(v %*% t(x)), v %*% t(a))
    expect_equal(tensor_value(x[, 1] %*% t(x[, 1])), a[, 1] %*% t(a[, 1]))
    sum(x)
  }, a)
})

test_that("cross_prod and tcross_prod match base R and finite differences", {
  set.seed(42)
  a <- rin(6, dim = c(3, 2))
  b <- rin(9, dim = c(3, 3))
  value_and_grad(function(x) {
    expect_equal(tensor_value(cross_prod(x)), crossprod(a))
    expect_equal(tensor_value(cross_prod(x, b)), crossprod(a, b))
    expect_equal(tensor_value(tcross_prod(x)), tcrossprod(a))
    expect_equal(tensor_value(tcross_prod(x[, 1])), tcrossprod(a[, 1]))
    expect_equal(tensor_value(cross_prod(x[, 1])), crossprod(a[, 1]))
    expect_equal(tensor_value(tcross_prod(t(x), t(b))), tcrossprod(t(a), t(b)))
    sum(x)
  }, a)
  expect_grad_matches_fd(function(x) sum(cross_prod(x) * matrix(1:4, 2)), a)
  expect_grad_matches_fd(function(x) sum(cross_prod(x, b)^2), a)
  expect_grad_matches_fd(function(x) sum(cross_prod(b, x)^2), a)
  expect_grad_matches_fd(function(x) sum(tcross_prod(x) * matrix(1:9, 3)), a)
  expect_grad_matches_fd(function(x) sum(tcross_prod(x, t(x))^2), b)
  expect_grad_matches_fd(function(x) sum(tcross_prod(x)^2), rin(3))
  expect_identical(cross_prod(a), crossprod(a))
  expect_identical(tcross_prod(a, a), tcrossprod(a, a))
})

test_that("non-conformable products are errors", {
  expect_snapshot(value_and_grad(function(x) sum(x %*% x), matrix(1, 2, 3)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) sum(cross_prod(x, 1:3)), matrix(1, 2, 3)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) sum(tcross_prod(x, 1:2)), matrix(1, 2, 3)), error = TRUE)
})
