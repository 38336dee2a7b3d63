# Eight schools, non-centred: mu ~ N(0, 5), tau ~ HalfCauchy(5), theta_j = mu + tau * eta_j with
# eta_j ~ N(0, 1), y_j ~ N(theta_j, sigma_j); mean-field guide with a LogNormal for tau.
source("bench/common.R")
y <- c(28, 8, -3, 7, -1, 1, 18, 12)
sigma <- c(15, 10, 16, 11, 9, 11, 10, 18)
model <- function(y, sigma) {
  mu <- sample_site("mu", dist_normal(0, 5))
  tau <- sample_site("tau", dist_half_cauchy(5))
  plate("schools", length(y), function(j) {
    eta <- sample_site("eta", dist_normal(0, 1))
    sample_site("y", dist_normal(mu + tau * eta, sigma), obs = y)
  })
}
guide <- function(y, sigma) {
  sample_site("mu", dist_normal(param("mu_loc", 0), param("mu_scale", 1, constraint = constraint_positive())))
  sample_site("tau", dist_lognormal(param("tau_loc", 0), param("tau_scale", 1, constraint = constraint_positive())))
  plate("schools", length(y), function(j) {
    sample_site("eta", dist_normal(param("eta_loc", numeric(8)),
                                   param("eta_scale", rep(1, 8), constraint = constraint_positive())))
  })
}
for (compile in bench_compile_modes()) {
  set.seed(2)
  s <- svi(model, guide, adam(lr = 0.01), trace_elbo(), compile = compile)
  sec <- if (compile) time_compiled(s, list(y, sigma)) else time_steps(function() svi_step(s, y, sigma))
  report("eight_schools", if (compile) "compiled" else "dynamic", sec)
}
