# mu ~ N(0, 10), 1000 observations y ~ N(mu, 1), mean-field guide.
source("bench/common.R")
source("bench/normal_normal_model.R")
for (compile in bench_compile_modes()) {
  set.seed(2)
  s <- svi(model, guide, adam(lr = 0.01), trace_elbo(), compile = compile)
  sec <- if (compile) time_compiled(s, list(y)) else time_steps(function() svi_step(s, y))
  report("normal_normal", if (compile) "compiled" else "dynamic", sec)
}
