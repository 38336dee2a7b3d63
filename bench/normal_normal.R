# mu ~ N(0, 10), 1000 observations y ~ N(mu, 1), mean-field guide.
source("bench/common.R")
model <- function(y) {
  mu <- sample_site("mu", dist_normal(0, 10))
  plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, 1), obs = y))
}
guide <- function(y) {
  sample_site("mu", dist_normal(param("loc", 0), param("scale", 1, constraint = constraint_positive())))
}
set.seed(1)
y <- rnorm(1000, 3)
for (compile in bench_compile_modes()) {
  set.seed(2)
  s <- svi(model, guide, adam(lr = 0.01), trace_elbo(), compile = compile)
  sec <- if (compile) time_compiled(s, list(y)) else time_steps(function() svi_step(s, y))
  report("normal_normal", if (compile) "compiled" else "dynamic", sec)
}
