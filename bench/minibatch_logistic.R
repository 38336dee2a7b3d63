# Logistic regression on N = 1e6 rows (and 1e5 for comparison), subsample_size = 1000: the
# per-step time must not depend on N.
source("bench/common.R")
D <- 20
model <- function(X, y) {
  w <- sample_site("w", dist_normal(numeric(ncol(X)), 1))
  b <- sample_site("b", dist_normal(0, 5))
  plate("data", nrow(X), subsample_size = 1000, function(i) {
    sample_site("y", dist_bernoulli(logit = X[i, ] %*% w + b), obs = y[i])
  })
}
guide <- function(X, y) {
  sample_site("w", dist_normal(param("w_loc", numeric(D)),
                               param("w_scale", rep(0.1, D), constraint = constraint_positive())))
  sample_site("b", dist_normal(param("b_loc", 0), param("b_scale", 0.1, constraint = constraint_positive())))
}
# Both data sets are in memory at once and the two sizes' timing blocks alternate
# (time_interleaved()), so that the machine's speed drifting during the run does not enter the
# ratio.
data <- lapply(c(1e5, 1e6), function(N) {
  set.seed(0)
  X <- matrix(rnorm(N * D), N, D)
  list(N = N, X = X, y = as.numeric(runif(N) < plogis(X %*% rnorm(D))))
})
for (compile in bench_compile_modes()) {
  mode <- if (compile) "compiled" else "dynamic"
  runs <- lapply(data, function(d) {
    set.seed(2)
    s <- svi(model, guide, adam(lr = 0.01), trace_elbo(), compile = compile)
    args <- list(d$X, d$y)
    if (compile) function(n) svi:::compiled_steps(s, args, n)
    else function(n) for (i in seq_len(n)) svi_step(s, d$X, d$y)
  })
  t <- time_interleaved(runs, block = if (compile) 100L else NULL)
  for (k in seq_along(data)) report("minibatch_logistic", mode, t[[k]], list(N = data[[k]]$N))
  json_line(list(model = "minibatch_logistic", mode = mode,
                 ratio_1e6_to_1e5 = round(t[[2]]$sec / t[[1]]$sec, 3),
                 cpu_ratio_1e6_to_1e5 = round(t[[2]]$cpu / t[[1]]$cpu, 3)))
}
