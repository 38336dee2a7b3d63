# The surrogate's gradient is unbiased: on a Normal-Normal-Normal chain with
# non-reparameterized guide sites, M = 2e4 independent copies of the model run side by side in
# a plate, each with its own copy of the guide parameters, so one gradient evaluation gives
# M independent estimates. Their mean must match the closed-form gradient within 4 standard
# errors, with and without each kind of baseline.

M <- 2e4
x_obs <- 0.7
p0 <- list(m1 = 0.3, ls1 = log(0.8), m2 = -0.2, w = 0.6, ls2 = log(1.3))

# Closed-form -ELBO of the chain z1 ~ N(0, 1), z2 ~ N(z1, 1), x ~ N(z2, 1) under the guide
# z1 ~ N(m1, s1), z2 ~ N(m2 + w z1, s2); the 0.5 log(2 pi) terms cancel but for one.
neg_elbo <- function(p) {
  s1sq <- exp(2 * p$ls1)
  s2sq <- exp(2 * p$ls2)
  e_lp1 <- -0.5 * (p$m1^2 + s1sq)
  e_lp2 <- -0.5 * ((p$m2 + (p$w - 1) * p$m1)^2 + (p$w - 1)^2 * s1sq + s2sq)
  e_lpx <- -0.5 * ((x_obs - p$m2 - p$w * p$m1)^2 + p$w^2 * s1sq + s2sq)
  ent <- p$ls1 + p$ls2 + 1
  -(e_lp1 + e_lp2 + e_lpx + ent - 0.5 * log(2 * pi))
}

chain_model <- function() {
  plate("copies", M, function(i) {
    z1 <- sample_site("z1", dist_normal(0, 1))
    z2 <- sample_site("z2", dist_normal(z1, 1))
    sample_site("x", dist_normal(z2, 1), obs = rep(x_obs, M))
  })
}

chain_guide <- function(bl1 = NULL, bl2 = function(z1) NULL) {
  function() {
    plate("copies", M, function(i) {
      p <- function(nm) param(nm, rep(p0[[nm]], M))
      z1 <- sample_site("z1", nonreparameterized(dist_normal(p("m1"), exp(p("ls1")))),
                        infer = list(baseline = bl1))
      sample_site("z2", nonreparameterized(dist_normal(p("m2") + p("w") * z1, exp(p("ls2")))),
                  infer = list(baseline = bl2(z1)))
    })
  }
}

expect_unbiased <- function(guide, store = NULL, num_particles = 1) {
  exact <- value_and_grad(neg_elbo, p0)
  est <- elbo_loss_and_grads(tracegraph_elbo(num_particles), chain_model, guide, store = store)
  expect_equal(est$loss / M, exact$value, tolerance = 0.02)
  for (nm in names(p0)) {
    g <- est$grads[[nm]]
    se <- stats::sd(g) / sqrt(M)
    z <- (mean(g) - exact$grad[[nm]]) / se
    expect_lt(abs(z), 4, label = sprintf("%s: z-score of the mean gradient", nm))
  }
  invisible(est)
}

test_that("no baseline", {
  set.seed(11)
  expect_unbiased(chain_guide())
})

test_that("decaying-average baselines, from stored averages and across particles", {
  guide <- chain_guide(baseline_decaying_avg(), function(z1) baseline_decaying_avg(0.5))
  store <- svi:::new_param_store()
  store$averages <- list(z1 = rep(-4, M), z2 = rep(-2.5, M))
  set.seed(12)
  expect_unbiased(guide, store)
  # the stored averages are read, not changed, outside svi_step()
  expect_equal(store$averages$z1, rep(-4, M))
  set.seed(13)
  expect_unbiased(guide, num_particles = 2)
})

test_that("given baseline values", {
  guide <- chain_guide(baseline_value(rep(-3.5, M)), function(z1) baseline_value(rep(-2, M)))
  set.seed(14)
  expect_unbiased(guide)
})

test_that("learned baselines (Pyro's spelling for one of them)", {
  net <- function(u) param("bl_w", 0.4) * u + param("bl_b", -2)
  guide <- chain_guide(
    baseline_learned(function(u) param("bl_c", -3) + 0 * u, rep(1, M)),
    function(z1) list(nn_baseline = net, nn_baseline_input = z1)
  )
  set.seed(15)
  est <- expect_unbiased(guide)
  expect_true(all(c("bl_w", "bl_b", "bl_c") %in% names(est$grads)))
})
