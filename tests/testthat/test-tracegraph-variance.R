# gradient_variance(): exact on a case with a closed form, changes nothing, and shows the
# variance reduction of tracegraph_elbo() with a decaying-average baseline on a mixture.

# K copies of z ~ N(0, 1) with guide z ~ N(m, 1), non-reparameterized, m = 1 in every copy.
# Per copy the gradient estimate of the loss is -e (w - b) with z = m + e and
# w = log p(z) - log q(z) = -1/2 - e, i.e. e^2 + (1/2 + b) e: mean 1, variance 2 + (1/2 + b)^2.
K <- 1000
copies_model <- function() plate("copies", K, function(i) sample_site("z", dist_normal(0, 1)))
copies_guide <- function(baseline = NULL) {
  function() {
    plate("copies", K, function(i) {
      sample_site("z", nonreparameterized(dist_normal(param("m", rep(1, K)), 1)),
                  infer = list(baseline = baseline))
    })
  }
}

test_that("gradient_variance() matches the closed form and updates nothing", {
  s <- svi(copies_model, copies_guide(), adam(0.1), trace_elbo())
  set.seed(21)
  v <- gradient_variance(s, num_samples = 50)
  expect_s3_class(v, "svi_gradient_variance")
  expect_named(v, "m")
  expect_length(v$m, K)
  expect_equal(mean(v$m), 2.25, tolerance = 0.08)
  expect_equal(mean(attr(v, "mean")$m), 1, tolerance = 0.03)
  expect_equal(params(s)$m, rep(1, K))
  expect_length(ls(s$optim_state$params), 0)
  expect_identical(s$steps, 0L)

  # the same estimator under tracegraph_elbo(); the best constant baseline (-1/2) takes the
  # variance down to 2
  s2 <- svi(copies_model, copies_guide(), adam(0.1), tracegraph_elbo())
  set.seed(22)
  expect_equal(mean(gradient_variance(s2, num_samples = 50)$m), 2.25, tolerance = 0.08)
  s3 <- svi(copies_model, copies_guide(baseline_value(rep(-0.5, K))), adam(0.1), tracegraph_elbo())
  set.seed(23)
  expect_equal(mean(gradient_variance(s3, num_samples = 50)$m), 2, tolerance = 0.08)
})

test_that("gradient_variance() checks its arguments and prints a summary", {
  s <- svi(copies_model, copies_guide(), adam(0.1), trace_elbo())
  expect_snapshot(error = TRUE, gradient_variance(s, num_samples = 1))
  expect_snapshot(error = TRUE, gradient_variance(list()))
  set.seed(24)
  v <- gradient_variance(s, num_samples = 2)
  expect_output(print(v), "2 gradient estimates")
  expect_output(print(v), "total_variance")
})

# Two-component Gaussian mixture, N = 200, with a Bernoulli assignment per point in the guide.
# The data are built so that each component's sample mean is exactly its true mean (-2.5, 2.5).
mixture <- local({
  N <- 200
  set.seed(42)
  e <- matrix(stats::rnorm(N), 2)
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
  list(x = x, model = model, guide = guide)
})

# Variance of the assignment gradients (summed over the 200 logits) under tracegraph_elbo()
# with its baselines as training left them, over that of trace_elbo(), at the same
# parameters and with the same random draws (common random numbers).
variance_ratio <- function(s, num_samples = 100) {
  s_trace <- svi(mixture$model, mixture$guide, adam(0.1), trace_elbo(), store = s$store)
  set.seed(99)
  v_graph <- gradient_variance(s, mixture$x, num_samples = num_samples)
  set.seed(99)
  v_trace <- gradient_variance(s_trace, mixture$x, num_samples = num_samples)
  sum(v_graph$z_logit) / sum(v_trace$z_logit)
}

test_that("on the mixture, the baseline and downstream costs cut the assignment gradient variance", {
  skip_on_cran()
  set.seed(31)
  s <- svi(mixture$model, mixture$guide, clipped_adam(lr = 0.1, lrd = 0.998), tracegraph_elbo())
  for (i in 1:100) svi_step(s, mixture$x)
  expect_lt(variance_ratio(s), 1 / 3)   # measured 0.200
  for (i in 1:1400) svi_step(s, mixture$x)
  expect_lt(variance_ratio(s), 1 / 3)   # measured 0.147
  expect_lt(max(abs(params(s)$mu_loc - c(-2.5, 2.5))), 0.1)   # measured -2.438, 2.516
})
