# Gradient estimators against the closed-form ELBO gradient of a Normal-Normal model.
skip_on_cran()

y_g <- c(0.7, 1.9, 1.2, 2.4)
g_model <- function(y) {
  mu <- sample_site("mu", dist_normal(0, 10))
  plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, 1), obs = y))
}
g_guide <- function(reparam) function(y) {
  d <- dist_normal(param("m", 0.3), param("s", 0.8, constraint = constraint_positive()))
  sample_site("mu", if (reparam) d else nonreparameterized(d))
}
# d(-ELBO)/dm and d(-ELBO)/d log(s) in closed form (see normal_normal_elbo()).
exact_grad <- function(m, s, y) {
  c(m = -(sum(y - m) - m / 100), s = -s * (-length(y) * s - s / 100 + 1 / s))
}

# Batches of particles: each call averages `per` particles; the SE comes from the batch means.
grad_batches <- function(guide, loss, batches, per) {
  t(vapply(seq_len(batches), function(b) {
    unlist(elbo_loss_and_grads(loss(per), g_model, guide, y_g)$grads)
  }, c(m = 0, s = 0)))
}

test_that("Trace_ELBO gradients are unbiased (2e4 particles, reparameterized and not)", {
  exact <- exact_grad(0.3, 0.8, y_g)
  set.seed(11)
  for (reparam in c(TRUE, FALSE)) {
    g <- grad_batches(g_guide(reparam), function(n) trace_elbo(num_particles = n), 200, 100)
    se <- apply(g, 2, sd) / sqrt(nrow(g))
    expect_true(all(abs(colMeans(g) - exact) < 4 * se), label = paste("reparam =", reparam))
  }
  expect_equal(elbo_loss_and_grads(trace_elbo(), g_model, g_guide(TRUE), y_g)$loss,
               -normal_normal_elbo(0.3, 0.8, y_g), tolerance = 1)  # one-sample estimate: same scale
})

test_that("partial Rao-Blackwellization over a plate lowers the score-function variance", {
  n <- 6
  x <- seq(-1, 1, length.out = n)
  model <- function(x) plate("i", length(x), function(i) {
    z <- sample_site("z", dist_normal(0, 1))
    sample_site("x", dist_normal(z, 1), obs = x)
  })
  guide <- function(x) plate("i", length(x), function(i) {
    sample_site("z", nonreparameterized(dist_normal(param("m", rep(0.2, length(x))), 1)))
  })
  est <- function(loss) {
    set.seed(5)
    t(vapply(1:800, function(k) elbo_loss_and_grads(loss, model, guide, x)$grads$m, numeric(n)))
  }
  rb <- est(trace_elbo())
  plain <- trace_elbo()
  plain$rao_blackwellize <- FALSE   # internal switch: every element weighted by the total cost
  no_rb <- est(plain)
  ratio <- mean(apply(rb, 2, var)) / mean(apply(no_rb, 2, var))
  expect_lt(ratio, 0.5)
  # both unbiased for the same gradient: d(-ELBO)/dm_i = -(x_i - 2 m_i)
  exact <- -(x - 2 * 0.2)
  expect_true(all(abs(colMeans(rb) - exact) < 4 * apply(rb, 2, sd) / sqrt(nrow(rb))))
})

test_that("subsampled losses are unbiased for the full-data loss, and minibatch fits agree", {
  set.seed(3)
  y <- rnorm(100, 1.5)
  sub_model <- function(y, k) {
    mu <- sample_site("mu", dist_normal(0, 10))
    plate("data", length(y), subsample_size = k, function(i) {
      sample_site("obs", dist_normal(mu, 1), obs = y[i])
    })
  }
  fixed_guide <- function(y, k) sample_site("mu", dist_normal(param("m", 1.2), param("s", 0.3, constraint_positive())))
  s <- svi(sub_model, fixed_guide, adam(lr = 0), trace_elbo())
  losses <- vapply(1:3000, function(i) evaluate_loss(s, y, 10), 1)
  full <- -normal_normal_elbo(1.2, 0.3, y)
  expect_lt(abs(mean(losses) - full), 4 * sd(losses) / sqrt(length(losses)))

  p <- fit_params(sub_model, function(y, k) {
    sample_site("mu", dist_normal(param("m", 0), param("s", 1, constraint_positive())))
  }, 3000, clipped_adam(lr = 0.02, lrd = 0.999), trace_elbo(), y, 10)
  post_mean <- sum(y) / (100 + 1 / 100)
  post_sd <- 1 / sqrt(100 + 1 / 100)
  expect_lt(abs(p$m - post_mean), 0.05)
  expect_lt(abs(log(p$s) - log(post_sd)), 0.3)
})
