# Optimizers: exact updates against the formulas of pyro-semantics §7, computed by hand here.

test_that("adam reproduces three hand-computed steps and keeps theta's attributes", {
  theta <- c(a = 0.5, b = -1.25)
  grads <- list(c(0.3, -2), c(-0.1, 0.7), c(1.5, 0.2))
  lr <- 0.05; b1 <- 0.9; b2 <- 0.999; eps <- 1e-8
  st <- optim_state_new()
  m <- v <- c(0, 0)
  expected <- theta
  for (t in 1:3) {
    g <- grads[[t]]
    m <- b1 * m + (1 - b1) * g
    v <- b2 * v + (1 - b2) * g^2
    expected <- expected - (lr / (1 - b1^t)) * (m / (sqrt(v) / sqrt(1 - b2^t) + eps))
    theta <- optim_update(adam(lr = lr), st, "x", theta, g)
    expect_equal(theta, expected, tolerance = 1e-15)
  }
  expect_named(theta, c("a", "b"))
  expect_identical(optim_state_get(st)$x$step, 3)
})

test_that("lr = 0 keeps a parameter bit-identical", {
  theta <- c(-0, 0, 1.5, -2)
  st <- optim_state_new()
  out <- theta
  for (i in 1:3) out <- optim_update(adam(lr = 0, weight_decay = 0.1), st, "x", out, c(1e10, -3, 0, 2))
  expect_identical(out, theta)
  expect_identical(1 / out[1:2], c(-Inf, Inf))
})
