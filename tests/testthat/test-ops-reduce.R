# Reductions: sum, mean, max, min, row/column sums and means, logsumexp.

test_that("sums and means match finite differences", {
  set.seed(31)
  m <- rin(12, dim = c(3, 4))
  w3 <- rnorm(3)
  w4 <- rnorm(4)
  expect_grad_matches_fd(function(x) sum(x)^2, m)
  expect_grad_matches_fd(function(x) mean(x)^2, m)
  expect_grad_matches_fd(function(x) sum(row_sums(x) * w3), m)
  expect_grad_matches_fd(function(x) sum(col_sums(x) * w4), m)
  expect_grad_matches_fd(function(x) sum(row_means(x) * w3), m)
  expect_grad_matches_fd(function(x) sum(col_means(x) * w4), m)
  expect_grad_matches_fd(function(x) max(x) + 2 * min(x), rin(5))
  expect_grad_matches_fd(function(x) sum(x, x^2, 3), rin(4))
})

test_that("row_sums() & co. give base R's values and shapes", {
  m <- matrix(1:6 / 3, 2)
  a <- array(1:24 / 7, c(2, 3, 4))
  value_and_grad(function(x) {
    expect_equal(tensor_value(row_sums(x)), rowSums(m))
    expect_equal(tensor_value(col_sums(x)), colSums(m))
    expect_equal(tensor_value(row_means(x)), rowMeans(m))
    expect_equal(tensor_value(col_means(x)), colMeans(m))
    expect_equal(tensor_value(mean(x)), mean(m))
    expect_equal(tensor_value(max(x)), max(m))
    expect_equal(tensor_value(min(x, 0)), 0)
    sum(x)
  }, m)
  value_and_grad(function(x) {
    expect_equal(tensor_value(row_sums(x)), rowSums(a))
    expect_equal(tensor_value(col_sums(x)), colSums(a))  # a 3 x 4 matrix, as in base R
    sum(x)
  }, a)
  # on numerics they are the base functions
  expect_identical(row_sums(m), rowSums(m))
  expect_identical(col_means(m, na.rm = TRUE), colMeans(m, na.rm = TRUE))
})

test_that("logsumexp matches finite differences, all and by margin", {
  set.seed(32)
  m <- rin(12, dim = c(3, 4))
  expect_grad_matches_fd(function(x) logsumexp(x), rin(5))
  expect_grad_matches_fd(function(x) logsumexp(x), m)
  expect_grad_matches_fd(function(x) sum(logsumexp(x, margin = 1) * c(1, -1, 2)), m)
  expect_grad_matches_fd(function(x) sum(logsumexp(x, margin = 2) * c(1, -1, 2, 0.5)), m)
})

test_that("logsumexp is stable at the extremes, on numerics and on handles", {
  x <- c(700, 700, -700)
  expect_equal(logsumexp(x), 700 + log(2))
  r <- value_and_grad(function(x) logsumexp(x), x)
  expect_equal(r$value, 700 + log(2))
  expect_equal(r$grad, c(0.5, 0.5, 0))
  x <- c(-700, -700)
  r <- value_and_grad(function(x) logsumexp(x), x)
  expect_equal(r$value, -700 + log(2))
  expect_equal(r$grad, c(0.5, 0.5))
  expect_equal(logsumexp(c(-Inf, -Inf)), -Inf)
  expect_equal(logsumexp(numeric(0)), -Inf)
  expect_equal(logsumexp(c(1, NA)), NA_real_)
  m <- matrix(c(1000, 1000, 0, 1), 2, dimnames = list(c("a", "b"), NULL))
  expect_equal(logsumexp(m, margin = 1), c(a = 1000, b = 1000))
  expect_equal(logsumexp(m, margin = 2), c(1000 + log(2), log(exp(0) + exp(1))))
  expect_equal(logsumexp(m), 1000 + log(2))
})

test_that("logsumexp checks its margin", {
  expect_snapshot(logsumexp(1:3, margin = 3), error = TRUE)
  expect_snapshot(logsumexp(1:3, margin = 1), error = TRUE)
  expect_snapshot(logsumexp("a"), error = TRUE)
})
