# Fixtures for the autoguide tests.

# Fits `guide` compiled (see fit_params()) and returns the svi object.
fit_auto <- function(model, guide, steps, args, optim = clipped_adam(lr = 0.05, lrd = 0.9997),
                     loss = trace_elbo(), seed = 1, compile = TRUE) {
  set.seed(seed)
  s <- svi(model, guide, optim, loss, compile = compile)
  if (compile) invisible(svi:::compiled_steps(s, args, steps)) else for (i in seq_len(steps)) do.call(svi_step, c(list(s), args))
  s
}

# Gauss-Hermite nodes and weights for E[f(Z)], Z ~ N(0, 1) (Golub-Welsch).
gauss_hermite <- function(n) {
  i <- seq_len(n - 1)
  J <- matrix(0, n, n)
  J[cbind(i, i + 1)] <- sqrt(i / 2)
  J[cbind(i + 1, i)] <- sqrt(i / 2)
  e <- eigen(J, symmetric = TRUE)
  list(x = e$values * sqrt(2), w = e$vectors[1, ]^2)
}

# trace_model() outside svi() uses the session's default parameter store, which earlier test
# files fill with parameters of the same names and other shapes: start from an empty one.
fresh_default_store <- function() assign("default_store", svi:::new_param_store(), envir = svi:::.svi)
