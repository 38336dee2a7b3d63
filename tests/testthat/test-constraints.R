# Constraints: the bijections round-trip, their log-Jacobians match finite differences, and
# they differentiate on the tape.

num_jac <- function(f, x, inputs = seq_along(x), outputs = NULL, h = 1e-6) {
  y0 <- f(x)
  if (is.null(outputs)) outputs <- seq_along(y0)
  J <- matrix(0, length(outputs), length(inputs))
  for (k in seq_along(inputs)) {
    e <- replace(x * 0, inputs[k], h)
    J[, k] <- (f(x + e)[outputs] - f(x - e)[outputs]) / (2 * h)
  }
  J
}
log_abs_det <- function(J) as.numeric(determinant(J, logarithm = TRUE)$modulus)

lc <- function(x) { x[upper.tri(x)] <- 0; x }

cases <- list(
  list(c = constraint_real(), x = c(-2, 0, 3)),
  list(c = constraint_positive(), x = c(-30, -2, 0, 3, 30)),
  list(c = constraint_greater_than(-1.5), x = c(-2, 0, 3)),
  list(c = constraint_less_than(2), x = c(-2, 0, 3)),
  list(c = constraint_unit_interval(), x = c(-20, -2, 0, 3, 20)),
  list(c = constraint_interval(-1, 4), x = c(-2, 0, 3)),
  list(c = constraint_softplus_positive(), x = c(-20, -2, 0, 3, 40)),
  list(c = constraint_interval(c(-1, 0, 2), c(1, 5, 2.5)), x = c(-2, 0, 3)),
  list(c = constraint_greater_than(c(-1, 0, 2)), x = c(-2, 0, 3)),
  list(c = constraint_simplex(), x = c(-1, 0.5, 2)),
  list(c = constraint_simplex(), x = rbind(c(-1, 0.5, 2), c(0, 0, 0))),
  list(c = constraint_ordered(), x = c(-1, 0.5, 2, -3)),
  list(c = constraint_ordered(), x = rbind(c(-1, 0.5, 2), c(3, -1, 0))),
  list(c = constraint_lower_cholesky(), x = matrix(c(0.3, -1, 2, 9, -0.5, 0.7, 9, 9, 1.2), 3)),
  list(c = constraint_positive_definite(), x = matrix(c(0.3, -1, 2, 9, -0.5, 0.7, 9, 9, 1.2), 3)),
  list(c = constraint_unit_lower_cholesky(), x = matrix(c(0.3, -1, 2, 9, -0.5, 0.7, 9, 9, 1.2), 3))
)
matrix_kinds <- c("svi_constraint_lower_cholesky", "svi_constraint_positive_definite",
                  "svi_constraint_unit_lower_cholesky")

test_that("forward maps into the constraint and the inverse round-trips to 1e-12", {
  for (cs in cases) {
    y <- constraint_forward(cs$c, cs$x)
    expect_true(constraint_check(cs$c, y), label = format(cs$c))
    back <- constraint_inverse(cs$c, y)
    xx <- cs$x
    if (inherits(cs$c, matrix_kinds)) xx <- lc(xx)
    if (inherits(cs$c, "svi_constraint_unit_lower_cholesky")) diag(xx) <- 0
    keep <- abs(xx) < 10  # sigmoid / exp saturate beyond that
    expect_equal(back[keep], xx[keep], tolerance = 1e-12, label = format(cs$c))
    expect_equal(constraint_forward(cs$c, back), y, tolerance = 1e-12, label = format(cs$c))
  }
  expect_equal(constraint_forward(constraint_simplex(), c(0, 0, 0)), rep(0.25, 4))
  expect_equal(constraint_forward(constraint_positive_definite(), matrix(0, 2, 2)), diag(2))
})

test_that("log-det-Jacobians match finite differences", {
  # elementwise: log |dy/dx| per element
  for (cs in cases[1:9]) {
    x <- cs$x[abs(cs$x) < 10]
    c <- cs$c
    if (length(c$lower) > 1 || length(c$upper) > 1) x <- cs$x
    ld <- constraint_log_det_jacobian(c, x)
    d <- diag(num_jac(function(v) constraint_forward(c, v), x))
    expect_equal(ld, log(abs(d)), tolerance = 1e-7, label = format(c))
  }
  # simplex (stick-breaking): K - 1 inputs to the first K - 1 coordinates
  for (x in list(c(-1, 0.5, 2), c(0.3), c(2, -2, 0.1, 0.7))) {
    f <- function(v) constraint_forward(constraint_simplex(), v)
    J <- num_jac(f, x, outputs = seq_along(x))
    expect_equal(constraint_log_det_jacobian(constraint_simplex(), x), log_abs_det(J), tolerance = 1e-7)
  }
  xm <- rbind(c(-1, 0.5, 2), c(0, 1, 0))
  expect_equal(constraint_log_det_jacobian(constraint_simplex(), xm),
               c(constraint_log_det_jacobian(constraint_simplex(), xm[1, ]),
                 constraint_log_det_jacobian(constraint_simplex(), xm[2, ])))
  # ordered
  x <- c(-1, 0.5, 2, -3)
  J <- num_jac(function(v) constraint_forward(constraint_ordered(), v), x)
  expect_equal(constraint_log_det_jacobian(constraint_ordered(), x), log_abs_det(J), tolerance = 1e-7)
  # matrices: lower-triangle entries in, lower-triangle entries out
  x <- matrix(c(0.3, -1, 2, 0, -0.5, 0.7, 0, 0, 1.2), 3)
  low <- which(lower.tri(x, diag = TRUE))
  for (c in list(constraint_lower_cholesky(), constraint_positive_definite())) {
    J <- num_jac(function(v) constraint_forward(c, v), x, inputs = low, outputs = low)
    expect_equal(constraint_log_det_jacobian(c, x), log_abs_det(J), tolerance = 1e-7, label = format(c))
  }
  strict <- which(lower.tri(x))
  for (c in list(constraint_unit_lower_cholesky())) {
    J <- num_jac(function(v) constraint_forward(c, v), x, inputs = strict, outputs = strict)
    expect_equal(constraint_log_det_jacobian(c, x), log_abs_det(J), tolerance = 1e-7, label = format(c))
  }
})

test_that("transforms differentiate on the tape (forward, inverse and log-det)", {
  fd_grad <- function(f, x, entries = seq_along(x)) {
    g <- value_and_grad(f, x)$grad
    for (i in entries) {
      e <- replace(x * 0, i, 1e-6)
      expect_equal(g[i], (f(x + e) - f(x - e)) / 2e-6, tolerance = 1e-6)
    }
  }
  w <- function(y) sum(y * seq_along(y))  # a weighted sum to make every output count
  for (cs in cases) {
    c <- cs$c
    x <- cs$x
    mat <- inherits(c, matrix_kinds)
    if (!is.matrix(x) && length(c$lower) == 1L) x <- x[abs(x) < 10]  # exp() and sigmoid() saturate
    entries <- if (mat) which(lower.tri(x, diag = TRUE)) else seq_along(x)
    if (mat) x <- lc(x)
    fd_grad(function(v) w(constraint_forward(c, v)), x, entries)
    fd_grad(function(v) sum(constraint_log_det_jacobian(c, v)), x, entries)
    y <- constraint_forward(c, x)
    if (inherits(c, "svi_constraint_positive_definite")) {
      g <- value_and_grad(function(v) w(constraint_inverse(c, v)), y)$grad
      for (i in 1:3) for (j in i:3) {
        D <- matrix(0, 3, 3); D[i, j] <- D[j, i] <- 1
        f <- function(v) w(constraint_inverse(c, v))
        expect_equal(sum(g * D), (f(y + 1e-6 * D) - f(y - 1e-6 * D)) / 2e-6, tolerance = 1e-6)
      }
    } else if (inherits(c, "svi_constraint_simplex")) {
      # move along the simplex: coordinate k of the first row against the last one
      f <- function(v) w(constraint_inverse(c, v))
      g <- value_and_grad(f, y)$grad
      K <- if (is.matrix(y)) ncol(y) else length(y)
      for (k in 1:(K - 1)) {
        D <- y * 0
        if (is.matrix(y)) D[1, c(k, K)] <- c(1e-6, -1e-6) else D[c(k, K)] <- c(1e-6, -1e-6)
        expect_equal(sum(g * D), (f(y + D) - f(y - D)) / 2, tolerance = 1e-6)
      }
    } else {
      keep <- which(abs(as.vector(x)) < 10)
      fd_grad(function(v) w(constraint_inverse(c, v)), y, if (mat) intersect(entries, keep) else keep)
    }
  }
})

test_that("the parameter-store maps: softmax for the simplex, NaN outside the support", {
  to <- svi:::constraint_to_unconstrained
  from <- svi:::constraint_from_unconstrained
  p <- c(0.2, 0.3, 0.5)
  expect_equal(from(constraint_simplex(), to(constraint_simplex(), p)), p, tolerance = 1e-14)
  expect_equal(from(constraint_simplex(), c(0, 0, 0, 0)), rep(0.25, 4))
  expect_equal(from(constraint_positive(), to(constraint_positive(), c(0.1, 5))), c(0.1, 5), tolerance = 1e-14)
  expect_true(all(is.nan(to(constraint_positive(), -1))))
  expect_true(all(!is.finite(to(constraint_unit_interval(), 2))))
  expect_true(all(!is.finite(to(constraint_positive_definite(), matrix(c(1, 2, 2, 1), 2)))))
  S <- matrix(c(2, 0.5, 0.5, 1), 2)
  expect_equal(from(constraint_positive_definite(), to(constraint_positive_definite(), S)), S, tolerance = 1e-14)
  expect_equal(svi:::constraint_name(constraint_interval(0, 2)), "interval(0, 2)")
  expect_equal(svi:::constraint_name(constraint_positive()), "positive")
  # a handle through from_unconstrained is differentiable
  vg <- value_and_grad(function(u) sum(from(constraint_simplex(), u) * c(1, 2, 3)), c(0, 0, 0))
  expect_equal(vg$grad, c(-1, 0, 1) / 3, tolerance = 1e-12)
})

test_that("supports of distributions are constraints", {
  expect_s3_class(support(dist_normal(0, 1)), "svi_constraint_real")
  expect_s3_class(support(dist_gamma(1, 1)), "svi_constraint_positive")
  expect_s3_class(support(dist_beta(1, 1)), "svi_constraint_unit_interval")
  expect_s3_class(support(dist_dirichlet(c(1, 1))), "svi_constraint_simplex")
  expect_equal(constraint_forward(support(dist_uniform(2, 4)), 0), 3)
  expect_true(constraint_check(support(dist_poisson(2)), c(0, 3)))
  expect_false(constraint_check(support(dist_binomial(3, 0.5)), 4))
  expect_error(constraint_forward(support(dist_poisson(2)), 1), "no transform")
})

test_that("constraint printing and bad arguments", {
  expect_snapshot({
    constraint_positive()
    constraint_interval(0, 2)
    constraint_simplex()
    support(dist_binomial(5, 0.5))
  })
  expect_snapshot(error = TRUE, {
    constraint_interval(2, 1)
    constraint_greater_than(NA)
    constraint_forward("positive", 1)
    constraint_forward(constraint_lower_cholesky(), c(1, 2))
  })
})
