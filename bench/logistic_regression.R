# N = 10000, D = 20 Bayesian logistic regression (the model of shared/bench/logreg_floor.cpp):
# w ~ N(0, 1), b ~ N(0, 5), y ~ Bernoulli(logit = X w + b) in a plate; mean-field normal guide.
source("bench/common.R")
set.seed(0)
N <- 10000
D <- 20
X <- matrix(rnorm(N * D), N, D)
y <- as.numeric(runif(N) < plogis(X %*% rnorm(D)))
model <- function(X, y) {
  w <- sample_site("w", dist_normal(numeric(ncol(X)), 1))
  b <- sample_site("b", dist_normal(0, 5))
  plate("data", nrow(X), function(i) {
    sample_site("y", dist_bernoulli(logit = X %*% w + b), obs = y)
  })
}
guide <- function(X, y) {
  D <- ncol(X)
  w <- sample_site("w", dist_normal(param("w_loc", numeric(D)),
                                    param("w_scale", rep(0.1, D), constraint = constraint_positive())))
  b <- sample_site("b", dist_normal(param("b_loc", 0), param("b_scale", 0.1, constraint = constraint_positive())))
}
# The floor runs just before and just after each mode's timing and their mean is the reference,
# so that a drift in the machine's speed over the run does not fall on one side of the ratio.
for (compile in bench_compile_modes()) {
  set.seed(2)
  s <- svi(model, guide, adam(lr = 0.01), trace_elbo(), compile = compile)
  before <- run_floor()
  t <- if (compile) time_compiled(s, list(X, y)) else time_steps(function() svi_step(s, X, y))
  after <- run_floor()
  fl <- list(sec = (before$sec + after$sec) / 2, cpu = (before$cpu + after$cpu) / 2)
  # ratio_to_floor: wall clock against the floor's own (wall-clock) figure from this run;
  # cpu_ratio_to_floor: CPU against the floor's CPU time.
  report("logistic_regression", if (compile) "compiled" else "dynamic", t,
         list(floor_us_per_step = round(fl$sec * 1e6, 1), floor_cpu_us_per_step = round(fl$cpu * 1e6, 1),
              floor_before_after_us = paste(round(before$sec * 1e6), round(after$sec * 1e6)),
              ratio_to_floor = round(t$sec / fl$sec, 3), cpu_ratio_to_floor = round(t$cpu / fl$cpu, 3)))
}
