# Two-component Gaussian mixture, N = 200 points, a Bernoulli assignment per point in the
# guide (score-function gradients): tracegraph_elbo() with decaying-average baselines, and
# trace_elbo() on the same model for reference.
source("bench/common.R")
N <- 200
set.seed(42)
e <- matrix(rnorm(N), 2)
x <- c(-2.5 + e[1, ] - mean(e[1, ]), 2.5 + e[2, ] - mean(e[2, ]))
model <- function(x) {
  mu <- plate("components", 2, function(k) sample_site("mu", dist_normal(0, 10)))
  plate("data", N, function(i) {
    z <- sample_site("z", dist_bernoulli(prob = 0.5))
    sample_site("x", dist_normal(mu[1] * (1 - z) + mu[2] * z, 1), obs = x)
  })
}
guide <- function(x) {
  plate("components", 2, function(k) {
    sample_site("mu", dist_normal(param("mu_loc", c(-1, 1)), exp(param("mu_log_scale", c(-1, -1)))))
  })
  plate("data", N, function(i) {
    sample_site("z", dist_bernoulli(logit = param("z_logit", rep(0, N))),
                infer = list(baseline = baseline_decaying_avg()))
  })
}
losses <- list(tracegraph = tracegraph_elbo(), trace = trace_elbo())
for (nm in names(losses)) {
  for (compile in c(FALSE, TRUE)) {
    set.seed(2)
    s <- tryCatch(svi(model, guide, adam(lr = 0.05), losses[[nm]], compile = compile),
                  error = function(e) NULL)
    sec <- tryCatch(
      if (compile) time_compiled(s, list(x)) else time_steps(function() svi_step(s, x)),
      error = function(e) {
        message(nm, if (compile) " compiled" else " dynamic", ": ", conditionMessage(e))
        NA_real_
      })
    report(paste0("mixture_", nm), if (compile) "compiled" else "dynamic", sec)
  }
}
