# Indexing, concatenation, binding and reshaping.

test_that("x[i] takes R's index forms", {
  x <- c(10, 20, 30, 40)
  value_and_grad(function(h) {
    expect_equal(tensor_value(h[2]), 20)
    expect_equal(tensor_value(h[c(4, 1, 1)]), x[c(4, 1, 1)])
    expect_equal(tensor_value(h[-1]), x[-1])
    expect_equal(tensor_value(h[-c(1, 4)]), x[-c(1, 4)])
    expect_equal(tensor_value(h[c(0, 2)]), x[c(0, 2)])
    expect_equal(tensor_value(h[c(TRUE, FALSE, TRUE, FALSE)]), x[c(TRUE, FALSE, TRUE, FALSE)])
    expect_equal(tensor_value(h[2L]), 20)
    expect_equal(tensor_value(h[2.7]), x[2.7])
    expect_equal(length(h[0]), 0)
    expect_equal(tensor_value(h[]), x)
    expect_equal(tensor_value(h[[3]]), 30)
    sum(h)
  }, x)
})

test_that("matrix indexing takes rows, columns, both, and a two-column matrix", {
  m <- matrix(1:12 / 4, 3)
  value_and_grad(function(h) {
    expect_equal(tensor_value(h[2, ]), m[2, ])
    expect_equal(tensor_value(h[, 3]), m[, 3])
    expect_equal(tensor_value(h[2, 3]), m[2, 3])
    expect_equal(tensor_value(h[-1, c(1, 4)]), m[-1, c(1, 4)])
    expect_equal(tensor_value(h[c(TRUE, FALSE, TRUE), -2]), m[c(TRUE, FALSE, TRUE), -2])
    expect_equal(tensor_value(h[2, , drop = FALSE]), m[2, , drop = FALSE])
    expect_equal(tensor_value(h[, 1, drop = FALSE]), m[, 1, drop = FALSE])
    expect_equal(tensor_value(h[5]), m[5])
    idx <- cbind(c(1, 3), c(2, 4))
    expect_equal(tensor_value(h[idx]), m[idx])
    expect_equal(tensor_value(h[, ]), m[, ])
    sum(h)
  }, m)
})

test_that("indexing gradients scatter back, repeated indices add up", {
  set.seed(51)
  m <- rin(12, dim = c(3, 4))
  expect_grad_matches_fd(function(x) sum(x[c(2, 2, 5)] * c(1, 2, 3)), rin(6))
  expect_grad_matches_fd(function(x) sum(x[-2]^2), rin(4))
  expect_grad_matches_fd(function(x) sum(x[c(3, 1, 3), ]^2), m)
  expect_grad_matches_fd(function(x) sum(x[, c(4, 4, 1)]^2), m)
  expect_grad_matches_fd(function(x) sum(x[2:3, c(1, 3)]^2), m)
  expect_equal(value_and_grad(function(x) sum(x[c(1, 1, 3)]), c(5, 6, 7))$grad, c(2, 0, 1))
})

test_that("a handle can index (recorded indices)", {
  r <- value_and_grad(function(p) sum(p$x[p$i] * c(1, 10)), list(x = c(5, 6, 7), i = c(3, 1)))
  expect_equal(r$value, 7 + 50)
  expect_equal(r$grad$x, c(10, 0, 1))
  expect_equal(r$grad$i, c(0, 0))
  r <- value_and_grad(function(p) sum(p$x[p$i, ]), list(x = matrix(1:4, 2), i = 2))
  expect_equal(r$grad$x, matrix(c(0, 1, 0, 1), 2))
})

test_that("c() concatenates handles and numerics in any position", {
  set.seed(52)
  expect_grad_matches_fd(function(x) sum(c(x, 2, x^2) * (1:7)), rin(3))
  expect_grad_matches_fd(function(x) sum(c(1, x, x[1]) * (1:5)), rin(3))
  expect_grad_matches_fd(function(x) sum(c(TRUE, x) * (1:4)), rin(3))
  r <- value_and_grad(function(x) {
    y <- c(0, x, NULL, numeric(0), 4L)
    expect_equal(tensor_value(y), c(0, 1, 2, 4))
    expect_identical(dim(c(x, x)), NULL)
    sum(y)
  }, c(1, 2))
  expect_equal(r$grad, c(1, 1))
  # plain c() is untouched
  expect_identical(c(1, 2), c(1, 2))
  expect_identical(c(a = 1, b = TRUE), c(a = 1, b = 1))
})

test_that("cbind() and rbind() build matrices from handles, numerics and scalars", {
  set.seed(53)
  a <- rin(3)
  value_and_grad(function(x) {
    expect_equal(tensor_value(cbind(x, 2 * x)), cbind(a, 2 * a, deparse.level = 0))
    expect_equal(tensor_value(cbind(1, x)), cbind(1, a, deparse.level = 0))
    expect_equal(tensor_value(rbind(x, 1:3)), rbind(a, 1:3, deparse.level = 0))
    expect_equal(tensor_value(rbind(1, x)), rbind(1, a, deparse.level = 0))
    m <- cbind(x, x)
    expect_equal(tensor_value(cbind(m, x)), cbind(a, a, a, deparse.level = 0))
    expect_equal(tensor_value(rbind(t(m), x)), rbind(a, a, a, deparse.level = 0))
    sum(x)
  }, a)
  expect_grad_matches_fd(function(x) sum(cbind(1, x, x^2) %*% c(1, 2, 3)), rin(4))
  expect_grad_matches_fd(function(x) sum(rbind(x, exp(x)) * matrix(1:6, 2)), rin(3))
  expect_snapshot(value_and_grad(function(x) sum(cbind(x, 1:2)), 1:3), error = TRUE)
})

test_that("dim<- reshapes and dim(x) <- NULL drops dims", {
  set.seed(54)
  r <- value_and_grad(function(x) {
    dim(x) <- c(2, 3)
    expect_identical(dim(x), c(2L, 3L))
    y <- x[2, ]
    dim(x) <- NULL
    expect_identical(dim(x), NULL)
    expect_equal(length(x), 6)
    sum(y * c(1, 2, 3)) + x[1]
  }, 1:6 / 2)
  expect_equal(r$grad, c(1, 1, 0, 2, 0, 3))
  expect_grad_matches_fd(function(x) { dim(x) <- c(3, 2); sum(t(x) %*% x) }, rin(6))
  expect_snapshot(value_and_grad(function(x) { dim(x) <- c(4, 2); sum(x) }, 1:6), error = TRUE)
})
