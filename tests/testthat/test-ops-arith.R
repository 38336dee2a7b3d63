# + - * / ^ and unary minus: values and gradients, with vectors, matrices and broadcasting.

test_that("arithmetic between handles matches finite differences", {
  set.seed(11)
  for (op in c("+", "-", "*", "/", "^")) {
    f <- function(p) sum(do.call(op, list(p$a, p$b)) * c(1, -2, 3))
    expect_grad_matches_fd(f, list(a = rin(3, 0.5, 2), b = rin(3, 0.5, 2)))
    g <- function(p) sum(do.call(op, list(p$a, p$b)) * matrix(1:6, 2))
    expect_grad_matches_fd(g, list(a = rin(6, 0.5, 2, c(2, 3)), b = rin(6, 0.5, 2, c(2, 3))))
  }
})

test_that("arithmetic broadcasts scalars both ways, handle or constant", {
  set.seed(12)
  w <- c(1, -1, 2, 0.5)
  for (op in c("+", "-", "*", "/", "^")) {
    bop <- function(a, b) do.call(op, list(a, b))
    # handle scalar with a handle vector, on either side
    expect_grad_matches_fd(function(p) sum(bop(p$s, p$v) * w), list(s = 1.3, v = rin(4, 0.5, 2)))
    expect_grad_matches_fd(function(p) sum(bop(p$v, p$s) * w), list(s = 1.3, v = rin(4, 0.5, 2)))
    # handle with a numeric constant: scalar, vector and matrix
    expect_grad_matches_fd(function(x) sum(bop(x, 1.7) * w), rin(4, 0.5, 2))
    expect_grad_matches_fd(function(x) sum(bop(1.7, x) * w), rin(4, 0.5, 2))
    expect_grad_matches_fd(function(x) sum(bop(x, c(0.5, 1, 1.5, 2)) * w), rin(4, 0.5, 2))
    expect_grad_matches_fd(function(x) sum(bop(x, matrix(1:4 / 3, 2))), rin(4, 0.5, 2, c(2, 2)))
    expect_grad_matches_fd(function(x) sum(bop(x, c(0.5, 1.5))), 1.2)
  }
})

test_that("arithmetic values and shapes follow R", {
  m <- matrix(1:6 / 2, 2)
  r <- value_and_grad(function(x) {
    y <- x * 2 + 1
    expect_identical(dim(y), c(2L, 3L))
    expect_equal(tensor_value(y), m * 2 + 1)
    expect_equal(tensor_value(2^x), 2^m)
    expect_equal(tensor_value(x^0.5), sqrt(m))
    expect_equal(tensor_value(-x), -m)
    expect_equal(tensor_value(+x), m)
    expect_equal(tensor_value(1 - x), 1 - m)
    expect_equal(tensor_value(x / x), m / m)
    expect_identical(dim(x[1] * c(1, 2)), NULL)  # a scalar takes the other side's shape
    sum(y)
  }, m)
  expect_equal(r$value, sum(m * 2 + 1))
  expect_equal(r$grad, m * 0 + 2)
})

test_that("x^2 and x^b at x = 0 have the right gradients", {
  expect_equal(value_and_grad(function(x) sum(x^2), c(0, 3))$grad, c(0, 6))
  expect_equal(value_and_grad(function(x) sum(x^1), c(0, 3))$grad, c(1, 1))
  expect_equal(value_and_grad(function(x) sum(x^3), c(0, 2))$grad, c(0, 12))
  expect_grad_matches_fd(function(p) sum(p$a^p$b), list(a = c(0.5, 2), b = c(1.5, -0.7)))
})

test_that("a matrix and a vector of the same length combine (the matrix's shape wins)", {
  r <- value_and_grad(function(x) {
    y <- x * c(1, 2, 3, 4)
    expect_identical(dim(y), c(2L, 2L))
    sum(y)
  }, matrix(1, 2, 2))
  expect_equal(r$grad, matrix(1:4, 2))
})
