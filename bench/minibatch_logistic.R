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
res <- list()
for (N in c(1e5, 1e6)) {
  set.seed(0)
  X <- matrix(rnorm(N * D), N, D)
  y <- as.numeric(runif(N) < plogis(X %*% rnorm(D)))
  for (compile in bench_compile_modes()) {
    set.seed(2)
    s <- svi(model, guide, adam(lr = 0.01), trace_elbo(), compile = compile)
    t <- if (compile) time_compiled(s, list(X, y)) else time_steps(function() svi_step(s, X, y))
    mode <- if (compile) "compiled" else "dynamic"
    res[[paste(mode, N)]] <- t
    report("minibatch_logistic", mode, t, list(N = N))
  }
  rm(X, y)
  invisible(gc())
}
for (mode in names(bench_compile_modes())) {
  a <- res[[paste(mode, 1e5)]]
  b <- res[[paste(mode, 1e6)]]
  json_line(list(model = "minibatch_logistic", mode = mode,
                 ratio_1e6_to_1e5 = round(b$sec / a$sec, 3),
                 cpu_ratio_1e6_to_1e5 = round(b$cpu / a$cpu, 3)))
}
