# Misuse is a clear error that names what went wrong, never a crash or a silent NaN.

test_that("a handle from a finished tape is stale", {
  leaked <- NULL
  value_and_grad(function(x) {
    leaked <<- x
    sum(x)
  }, c(1, 2))
  expect_false(svi:::cpp_tensor_is_live(leaked))
  expect_snapshot(print(leaked))
  expect_snapshot(leaked + 1, error = TRUE)
  expect_snapshot(exp(leaked), error = TRUE)
  expect_snapshot(sum(leaked), error = TRUE)
  expect_snapshot(leaked[1], error = TRUE)
  expect_snapshot(tensor_value(leaked), error = TRUE)
  # and inside a new recording too
  expect_snapshot(value_and_grad(function(x) sum(x + leaked), c(1, 2)), error = TRUE)
})

test_that("shape mismatches are errors, never recycling", {
  expect_snapshot(value_and_grad(function(x) sum(x + c(1, 2)), c(1, 2, 3)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) sum(x * matrix(1, 3, 2)), matrix(1, 2, 3)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) sum(x[1:2] / x), c(1, 2, 3)), error = TRUE)
})

test_that("comparisons, logic and if () on a handle explain why they fail", {
  expect_snapshot(value_and_grad(function(x) if (x > 0) x else -x, 1), error = TRUE)
  expect_snapshot(value_and_grad(function(x) sum(x == 1), 1), error = TRUE)
  expect_snapshot(value_and_grad(function(x) !x, 1), error = TRUE)
  expect_snapshot(value_and_grad(function(x) x & TRUE, 1), error = TRUE)
  expect_snapshot(value_and_grad(function(x) x %% 2, 1), error = TRUE)
  expect_snapshot(value_and_grad(function(x) as.numeric(x), 1), error = TRUE)
  expect_snapshot(value_and_grad(function(x) floor(x), 1), error = TRUE)
  expect_snapshot(value_and_grad(function(x) prod(x), 1), error = TRUE)
})

test_that("NA and NaN never enter a tape", {
  expect_snapshot(value_and_grad(function(x) sum(x), c(1, NA)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) sum(x), list(a = 1, b = c(2, NaN))), error = TRUE)
  expect_snapshot(value_and_grad(function(x) sum(x * c(1, NA)), c(1, 2)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) sum(x + NaN), c(1, 2)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) sum(c(x, NA_integer_)), c(1, 2)), error = TRUE)
})

test_that("bad indices are errors", {
  expect_snapshot(value_and_grad(function(x) x[4], c(1, 2, 3)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) sum(x[c(1, NA)]), c(1, 2, 3)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) sum(x[c(-1, 2)]), c(1, 2, 3)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) sum(x[c(TRUE, FALSE)]), c(1, 2, 3)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) sum(x["a"]), c(1, 2, 3)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) sum(x[3, ]), matrix(1, 2, 2)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) sum(x[, 3]), matrix(1, 2, 2)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) sum(x[1, 1]), c(1, 2)), error = TRUE)
  expect_snapshot(value_and_grad(function(p) sum(p$x[p$i]), list(x = c(1, 2), i = 3)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) x[[1:2]], c(1, 2)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) { x[1] <- 0; sum(x) }, c(1, 2)), error = TRUE)
})

test_that("value_and_grad() checks its arguments and f's result", {
  expect_snapshot(value_and_grad("sum", 1), error = TRUE)
  expect_snapshot(value_and_grad(sum, "a"), error = TRUE)
  expect_snapshot(value_and_grad(sum, list(1, 2)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) x, c(1, 2)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) "a", c(1, 2)), error = TRUE)
  expect_snapshot(value_and_grad(function(x) stop("inside f"), 1), error = TRUE)
})

test_that("an error inside f leaves no tape recording", {
  try(value_and_grad(function(x) stop("boom"), 1), silent = TRUE)
  expect_false(svi:::cpp_tape_recording())
})
