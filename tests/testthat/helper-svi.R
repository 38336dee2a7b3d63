# Fits `guide` to `model` with svi_step and returns the parameters.
# compile = TRUE replays the recorded step in C++ (the same losses as dynamic steps, see
# test-compiled.R), which keeps the long conjugate fits fast.
fit_params <- function(model, guide, steps, optim, loss = trace_elbo(), ..., seed = 1, compile = TRUE) {
  set.seed(seed)
  s <- svi(model, guide, optim, loss, compile = compile)
  if (compile) svi:::compiled_steps(s, list(...), steps) else for (i in seq_len(steps)) svi_step(s, ...)
  params(s)
}

# Closed-form ELBO of q = N(m, s^2) for y_i ~ N(mu, sigma^2), mu ~ N(mu0, sd0^2).
normal_normal_elbo <- function(m, s, y, sigma = 1, mu0 = 0, sd0 = 10) {
  sum(dnorm(y, m, sigma, log = TRUE)) - length(y) * s^2 / (2 * sigma^2) +
    dnorm(m, mu0, sd0, log = TRUE) - s^2 / (2 * sd0^2) + 0.5 * log(2 * pi * exp(1) * s^2)
}
