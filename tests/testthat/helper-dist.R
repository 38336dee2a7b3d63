# Helpers for the distribution tests.

# Relative error that treats equal values (including infinities) as exact.
rel_err <- function(a, b) {
  r <- ifelse(a == b, 0, abs(a - b) / pmax(abs(b), .Machine$double.xmin))
  r[is.na(r)] <- Inf
  r
}

# log_prob of make(params) at x over a grid of (x, params), compared with reference(x, params)
# to a relative tolerance; on failure reports the worst point.
expect_log_prob_grid <- function(make, reference, x, params, tol = 1e-12, drop = NULL) {
  g <- expand.grid(c(list(x = x), params), KEEP.OUT.ATTRS = FALSE)
  if (!is.null(drop)) g <- g[!drop(g), , drop = FALSE]
  ours <- vapply(seq_len(nrow(g)), function(i) {
    p <- as.list(g[i, -1, drop = FALSE])
    log_prob(do.call(make, p), g$x[i])
  }, 1)
  ref <- suppressWarnings(do.call(reference, c(list(g$x), as.list(g[-1]))))
  r <- rel_err(ours, ref)
  worst <- which.max(r)
  expect(max(r) <= tol, sprintf(
    "max relative error %.3g at %s: ours %.17g, reference %.17g", max(r),
    paste(names(g), unlist(g[worst, ]), sep = " = ", collapse = ", "), ours[worst], ref[worst]
  ))
  invisible(cbind(g, ours, ref))
}

# Gradient of sum(log_prob(make(params), x)) w.r.t. x and every parameter, against central
# finite differences of the numeric log_prob.
expect_log_prob_grad <- function(make, x, params, tol = 1e-6, wrt_x = TRUE, h = 1e-6) {
  all <- c(list(x = x), params)
  f_num <- function(a) sum(log_prob(do.call(make, a[-1]), a$x))
  vg <- value_and_grad(function(a) sum(log_prob(do.call(make, a[-1]), a$x)), all)
  expect_equal(vg$value, f_num(all), tolerance = 1e-12)
  for (nm in names(all)) {
    if (nm == "x" && !wrt_x) next
    for (k in seq_along(all[[nm]])) {
      up <- all; dn <- all
      step <- h * max(1, abs(all[[nm]][k]))
      up[[nm]][k] <- up[[nm]][k] + step
      dn[[nm]][k] <- dn[[nm]][k] - step
      fd <- (f_num(up) - f_num(dn)) / (2 * step)
      got <- vg$grad[[nm]][k]
      expect(abs(got - fd) <= tol * max(1, abs(fd)),
             sprintf("d/d%s[%d]: autodiff %.10g vs finite difference %.10g", nm, k, got, fd))
    }
  }
  invisible(vg)
}

# Sample mean and variance within 4 standard errors of the truth.
expect_moments <- function(x, mean, var) {
  n <- length(x)
  m <- base::mean(x)
  v <- stats::var(x)
  se_m <- sqrt(var / n)
  se_v <- sqrt(base::mean((x - m)^4) / n - v^2 / n)
  expect(abs(m - mean) <= 4 * se_m, sprintf("sample mean %.6g vs %.6g (se %.3g)", m, mean, se_m))
  expect(abs(v - var) <= 4 * se_v, sprintf("sample variance %.6g vs %.6g (se %.3g)", v, var, se_v))
}

expect_ks <- function(x, cdf, ...) {
  p <- suppressWarnings(stats::ks.test(x, cdf, ...)$p.value)
  expect(p > 1e-3, sprintf("KS test p-value %.3g", p))
}

# Chi-squared goodness of fit of counts against a pmf (cells with expected count < 5 pooled).
expect_chisq <- function(x, pmf, support) {
  n <- length(x)
  obs <- tabulate(match(x, support), length(support))
  expect_equal(sum(obs), n)  # every draw is in the support
  e <- n * pmf(support)
  keep <- e >= 5
  o <- c(obs[keep], sum(obs[!keep]))
  e <- c(e[keep], n - sum(e[keep]))
  if (e[length(e)] < 5) { o <- o[-length(o)]; e <- e[-length(e)] }
  stat <- sum((o - e)^2 / e)
  p <- stats::pchisq(stat, length(o) - 1, lower.tail = FALSE)
  expect(p > 1e-3, sprintf("chi-squared p-value %.3g", p))
}

# Reparameterized gradients: d E[g(z)] / d theta_j from n draws, each draw with its own copy of
# the parameters (so every per-draw derivative is seen and the standard error is known),
# against `truth` (a function of the parameter list giving E[g(z)]), differentiated by central
# differences. Draws are made with dist_draw() inside value_and_grad()'s recording tape.
expect_reparam_grad <- function(make, params, g, truth, n = 1e5, h = 1e-5) {
  rep_params <- lapply(params, function(v) rep(v, n))
  vg <- value_and_grad(function(p) sum(g(svi:::dist_draw(do.call(make, p)))), rep_params)
  for (nm in names(params)) {
    d <- vg$grad[[nm]]
    est <- base::mean(d)
    se <- stats::sd(d) / sqrt(n)
    up <- params; dn <- params
    up[[nm]] <- up[[nm]] + h; dn[[nm]] <- dn[[nm]] - h
    want <- (truth(up) - truth(dn)) / (2 * h)
    expect(abs(est - want) <= 4 * se + 1e-8,
           sprintf("dE/d%s: Monte Carlo %.6g (se %.3g) vs analytic %.6g", nm, est, se, want))
  }
}

# E[g(z)] by numerical integration of a density on [lower, upper].
integrate_mean <- function(g, dens, lower, upper) {
  stats::integrate(function(z) g(z) * dens(z), lower, upper, rel.tol = 1e-12, subdivisions = 1000L)$value
}
