# expect_grad_matches_fd(f, x): value_and_grad(f, x)$grad agrees with central finite differences
# of f to `tol`, relative to the size of the gradient (a floor of 1e-3 keeps near-zero
# gradients from demanding more than double precision can give). x is a numeric vector or
# matrix, or a named list of them. The differences use Richardson extrapolation
# (steps h and h/2), so their own error is far below tol.
fd_grad <- function(f, x, h = 1e-3) {
  val <- function(v) value_and_grad(f, v)$value
  one <- function(get, set) {  # derivative along one coordinate
    x0 <- get(x)
    step <- h * max(1, abs(x0))
    d <- function(s) (val(set(x, x0 + s)) - val(set(x, x0 - s))) / (2 * s)
    (4 * d(step / 2) - d(step)) / 3
  }
  if (!is.list(x)) {
    g <- x
    for (k in seq_along(x)) g[k] <- one(function(v) v[k], function(v, a) { v[k] <- a; v })
    return(g)
  }
  lapply(stats::setNames(nm = names(x)), function(nm) {
    g <- x[[nm]]
    for (k in seq_along(g)) {
      g[k] <- one(function(v) v[[nm]][k], function(v, a) { v[[nm]][k] <- a; v })
    }
    g
  })
}

expect_grad_matches_fd <- function(f, x, tol = 1e-6) {
  label <- paste(deparse(substitute(f), width.cutoff = 60L)[1L], collapse = "")
  res <- value_and_grad(f, x)
  fd <- fd_grad(f, x)
  if (is.list(x)) {
    testthat::expect_identical(lapply(res$grad, dim), lapply(x, dim))
  } else {
    testthat::expect_identical(dim(res$grad), dim(x))
  }
  got <- unlist(res$grad, use.names = FALSE)
  fd <- unlist(fd, use.names = FALSE)
  scale <- max(abs(fd), 1e-3)
  err <- max(abs(got - fd)) / scale
  testthat::expect(
    all(is.finite(got)) && err <= tol,
    sprintf("gradient of %s differs from finite differences: relative error %.3g > %.3g\n  tape: %s\n  fd:   %s",
            label, err, tol, paste(format(got, digits = 8), collapse = " "),
            paste(format(fd, digits = 8), collapse = " "))
  )
  invisible(res)
}

# Random inputs away from kinks and poles: uniform on [lo, hi], with dims when asked.
rin <- function(n, lo = -2, hi = 2, dim = NULL) {
  x <- stats::runif(n, lo, hi)
  if (!is.null(dim)) dim(x) <- dim
  x
}
