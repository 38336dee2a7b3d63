# value_and_grad(): the user-visible proof that the tape works.

test_that("value_and_grad returns the value and a gradient shaped like x", {
  m <- matrix(1:6 / 3, 2, dimnames = list(c("a", "b"), NULL))
  r <- value_and_grad(function(x) sum(x^2), m)
  expect_equal(r$value, sum(m^2))
  expect_identical(attributes(r$grad), attributes(m))
  expect_equal(r$grad, 2 * m)
  v <- c(a = 1, b = 2)
  expect_identical(names(value_and_grad(function(x) sum(x), v)$grad), c("a", "b"))
  expect_equal(value_and_grad(function(x) sum(x), 1:3)$grad, c(1, 1, 1))
  expect_equal(value_and_grad(function(x) sum(x), c(TRUE, FALSE))$grad, c(1, 1))
})

test_that("a named list of inputs gives a named list of gradients", {
  r <- value_and_grad(function(p) sum(p$w * p$x) + p$b, list(w = c(1, 2), x = c(3, 4), b = 0.5))
  expect_equal(r$value, 11.5)
  expect_equal(r$grad, list(w = c(3, 4), x = c(1, 2), b = 1))
  expect_grad_matches_fd(function(p) sum(softplus(p$A %*% p$v)), list(A = matrix(1:6 / 5, 3), v = c(0.3, -0.2)))
})

test_that("a result that does not depend on x has a zero gradient", {
  expect_equal(value_and_grad(function(x) 3, c(1, 2)), list(value = 3, grad = c(0, 0)))
  r <- value_and_grad(function(p) sum(p$a), list(a = 1, b = matrix(1, 2, 2)))
  expect_equal(r$grad$b, matrix(0, 2, 2))
})

test_that("long chains and large tapes work", {
  r <- value_and_grad(function(x) {
    y <- x
    for (k in 1:3000) y <- y * 0.999 + x * 0.001
    sum(y)
  }, c(1, 2))
  expect_equal(r$value, 3)
  expect_equal(r$grad, c(1, 1))
})

test_that("svi masks nothing in base, stats, utils, graphics or methods", {
  mine <- grep("^[.]__", getNamespaceExports("svi"), value = TRUE, invert = TRUE)  # not S4 tables
  for (pkg in c("base", "stats", "utils", "graphics", "methods")) {
    expect_identical(intersect(mine, getNamespaceExports(pkg)), character(), label = pkg)
  }
})

test_that("attaching svi masks no function (conflicts() lists none of its names)", {
  skip_if_not("package:svi" %in% search())
  clash <- conflicts(detail = TRUE)[["package:svi"]]
  expect_length(intersect(clash, ls(baseenv())), 0)
  expect_length(intersect(clash, getNamespaceExports("stats")), 0)
})
