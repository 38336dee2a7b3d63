# svi_step() on a compiled object (one call per step, as a user's own loop runs it) against a
# replayed stretch of 100 steps (as svi_run() runs it), interleaved in one process: the cost a
# single call adds over a step of a stretch (issue 12's target: ratio <= 1.3).
source("bench/common.R")
source("bench/normal_normal_model.R")
nn <- list(name = "normal_normal", model = model, guide = guide, args = list(y),
           step = function(s) svi_step(s, y))
set.seed(0)
N <- 10000
D <- 20
X <- matrix(rnorm(N * D), N, D)
yl <- as.numeric(runif(N) < plogis(X %*% rnorm(D)))
lr <- list(
  name = "logistic_regression", args = list(X, yl), step = function(s) svi_step(s, X, yl),
  model = function(X, y) {
    w <- sample_site("w", dist_normal(numeric(ncol(X)), 1))
    b <- sample_site("b", dist_normal(0, 5))
    plate("data", nrow(X), function(i) sample_site("y", dist_bernoulli(logit = X %*% w + b), obs = y))
  },
  guide = function(X, y) {
    D <- ncol(X)
    sample_site("w", dist_normal(param("w_loc", numeric(D)),
                                 param("w_scale", rep(0.1, D), constraint = constraint_positive())))
    sample_site("b", dist_normal(param("b_loc", 0), param("b_scale", 0.1, constraint = constraint_positive())))
  }
)
for (m in list(nn, lr)) {
  set.seed(2)
  s <- svi(m$model, m$guide, adam(lr = 0.01), trace_elbo(), compile = TRUE)
  args <- m$args
  step <- m$step
  # blocks of 100 steps: 100 calls of svi_step(), or one stretch of 100
  t <- time_interleaved(list(
    function(n) for (i in seq_len(n)) step(s),
    function(n) svi:::compiled_steps(s, args, n)
  ), block = 100)
  stretch <- t[[2]]
  report(m$name, "compiled_svi_step", t[[1]],
         list(stretch_cpu_us_per_step = round(stretch$cpu * 1e6, 2),
              ratio_cpu = round(t[[1]]$cpu / stretch$cpu, 2),
              ratio_wall = round(t[[1]]$sec / stretch$sec, 2)))
}
