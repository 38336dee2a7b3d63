# Broadcasting (issue 13): dims align from the left (outer plates first, as R recycles a
# length-n vector down the columns of an n-row matrix); dims of 1 and missing trailing dims
# expand; anything else is an error naming both shapes.

m <- matrix(c(0.3, -1.2, 0.8, 2.1, -0.4, 1.5, 0.9, -2.2, 0.1, 0.7), 2, 5)
v <- c(1.5, -0.5)
row <- matrix(c(0.2, 1.1, -0.7, 0.4, 2.0), 1, 5)
col <- matrix(v, 2, 1)

value_of <- function(f, x) value_and_grad(function(x) sum(f(x)), x)$value

test_that("arithmetic broadcasts a vector, a column and a row against a matrix", {
  mt <- function(f) value_and_grad(function(x) { r <- f(x); sum(r * r) }, m)
  for (op in list(`+`, `-`, `*`, `/`)) {
    expect_equal(value_and_grad(function(x) sum(op(v, x) * m), m)$value,
                 sum(op(matrix(v, 2, 5), m) * m))
    expect_equal(value_and_grad(function(x) sum(op(x, col) * m), m)$value,
                 sum(op(m, matrix(v, 2, 5)) * m))
    expect_equal(value_and_grad(function(x) sum(op(row, x) * m), m)$value,
                 sum(op(matrix(row, 2, 5, byrow = TRUE), m) * m))
  }
  pm <- abs(m) + 0.5
  expect_equal(value_and_grad(function(x) sum(x^v), pm)$value, sum(pm^matrix(v, 2, 5)))
})

test_that("the gradient of the broadcast operand is summed back to its shape", {
  expect_grad_matches_fd(function(x) sum((x + m) * m), v)
  expect_grad_matches_fd(function(x) sum((m * x)^2), col)
  expect_grad_matches_fd(function(x) sum(m / (x + 3)), row)
  expect_grad_matches_fd(function(x) sum((abs(m) + 0.5)^x), v)
  expect_grad_matches_fd(function(x) sum(x^c(2.5, 1.5)), abs(m) + 0.5)
  g <- value_and_grad(function(x) sum(x * m), v)$grad
  expect_equal(g, rowSums(m))
  g <- value_and_grad(function(x) sum(x * m), row)$grad
  expect_equal(as.vector(g), colSums(m))
})

test_that("shapes that do not broadcast are errors naming both shapes", {
  expect_snapshot(error = TRUE, value_and_grad(function(x) sum(x + 1:6), c(1, 2, 3)))
  expect_snapshot(error = TRUE, value_and_grad(function(x) sum(x * m), c(1, 2, 3)))
  expect_snapshot(error = TRUE, value_and_grad(function(x) sum(x + m), matrix(1, 5, 2)))
})

test_that("a distribution parameter broadcasts against the value and other parameters", {
  y <- m
  mu <- v
  ref <- dnorm(y, matrix(mu, 2, 5), 1.3, log = TRUE)
  expect_equal(log_prob(dist_normal(mu, 1.3), y), ref)
  expect_equal(value_and_grad(function(p) sum(log_prob(dist_normal(p, 1.3), y)), mu)$value,
               sum(ref))
  sdr <- abs(row) + 0.5
  ref2 <- dnorm(y, matrix(mu, 2, 5), matrix(sdr, 2, 5, byrow = TRUE), log = TRUE)
  expect_equal(value_and_grad(function(p) sum(log_prob(dist_normal(p, sdr), y)), mu)$value,
               sum(ref2))
  expect_grad_matches_fd(function(p) sum(log_prob(dist_normal(p, 1.3), y)), mu)
  expect_grad_matches_fd(function(s) sum(log_prob(dist_normal(mu, s), y)), sdr)
  expect_snapshot(error = TRUE, dist_normal(c(1, 2, 3), c(1, 2)))
})
