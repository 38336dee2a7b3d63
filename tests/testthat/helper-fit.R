# Fixtures for the training loop, fit methods, draws and persistence tests: a normal mean
# with a conjugate prior, whose exact posterior is known.
fx_model <- function(y) {
  mu <- sample_site("mu", dist_normal(0, 10))
  plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, 1), obs = y))
}
fx_guide <- function(y) {
  loc <- param("loc", 0)
  scale <- param("scale", 1, constraint = constraint_positive())
  sample_site("mu", dist_normal(loc, scale))
}
fx_y <- c(2.1, 3.4, 2.9, 3.3, 2.5, 3.8, 3.0, 2.2)

# Exact posterior of mu: prior N(0, 10^2), unit observation noise.
fx_posterior <- function(y) {
  prec <- 1 / 100 + length(y)
  list(mean = sum(y) / prec, sd = 1 / sqrt(prec))
}

fx_svi <- function(lr = 0.05, guide = fx_guide, model = fx_model) {
  svi(model, guide, adam(lr = lr), trace_elbo())
}

# Everything a step may change, as plain values (for exact comparisons).
fx_state <- function(s) {
  list(values = s$store$values, optim = optim_state_get(s$optim_state), steps = s$steps)
}

fx_interrupt <- function() {
  signalCondition(structure(class = c("interrupt", "condition"), list(message = "", call = NULL)))
}
