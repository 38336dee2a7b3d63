# Baselines: the decaying average's bookkeeping, the learned baseline's separate training,
# Pyro's spelling, and the errors.

y3 <- c(0.4, 2.2, -0.3)

# model/guide pair with a plated Bernoulli latent; the guide records each draw in `seen` so
# the downstream cost can be recomputed by hand:
# dc_i = log p(z_i) + log N(y_i; 2 z_i, 1) - log q(z_i).
bern_pair <- function(baseline, seen = new.env()) {
  seen$z <- list()
  model <- function() {
    plate("data", 3, function(i) {
      z <- sample_site("z", dist_bernoulli(prob = 0.3))
      sample_site("y", dist_normal(2 * z, 1), obs = y3)
    })
  }
  guide <- function() {
    plate("data", 3, function(i) {
      z <- sample_site("z", dist_bernoulli(logit = param("l", c(0.5, -0.2, 0))),
                       infer = list(baseline = baseline))
      seen$z[[length(seen$z) + 1L]] <- as.vector(tensor_value(z))
      z
    })
  }
  list(model = model, guide = guide, seen = seen)
}

hand_cost <- function(z, l = c(0.5, -0.2, 0)) {
  dbinom(z, 1, 0.3, log = TRUE) + dnorm(y3, 2 * z, 1, log = TRUE) - dbinom(z, 1, plogis(l), log = TRUE)
}

test_that("the decaying average uses its old value, then is updated once per particle", {
  mg <- bern_pair(baseline_decaying_avg(beta = 0.8))
  s <- svi(mg$model, mg$guide, sgd(lr = 0), tracegraph_elbo(num_particles = 2))
  set.seed(1)
  svi_step(s)
  dc <- lapply(mg$seen$z, hand_cost)
  expect_length(dc, 2)
  avg1 <- 0.2 * dc[[1]]
  expect_equal(as.vector(s$store$averages$z), 0.8 * avg1 + 0.2 * dc[[2]])

  # the gradient weights use the averages from before each particle's update
  before <- as.vector(s$store$averages$z)
  mg$seen$z <- list()
  set.seed(2)
  res <- elbo_loss_and_grads(tracegraph_elbo(num_particles = 2), mg$model, mg$guide, store = s$store)
  z <- mg$seen$z
  b2 <- 0.8 * before + 0.2 * hand_cost(z[[1]])
  score <- function(z) z - plogis(c(0.5, -0.2, 0))   # d log q / d logit
  expected <- -(score(z[[1]]) * (hand_cost(z[[1]]) - before) + score(z[[2]]) * (hand_cost(z[[2]]) - b2)) / 2
  expect_equal(as.vector(res$grads$l), expected)
  # ... and that did not change the stored averages
  expect_equal(as.vector(s$store$averages$z), before)
})

test_that("averages change only in svi_step(), stay out of the optimizer and are saved with the store", {
  mg <- bern_pair(baseline_decaying_avg())
  s <- svi(mg$model, mg$guide, adam(lr = 0.01), tracegraph_elbo())
  set.seed(3)
  svi_step(s)
  avg <- s$store$averages$z
  expect_length(avg, 3)
  evaluate_loss(s)
  expect_identical(s$store$averages$z, avg)
  gradient_variance(s, num_samples = 3)
  expect_identical(s$store$averages$z, avg)
  expect_named(params(s), "l")
  expect_setequal(ls(s$optim_state$params), "l")
  path <- tempfile(fileext = ".rds")
  saveRDS(s, path)
  s2 <- readRDS(path)
  expect_identical(s2$store$averages$z, avg)
  svi_step(s2)
  expect_false(identical(s2$store$averages$z, avg))
})

test_that("a step that fails does not move the averages", {
  boom <- FALSE
  mg <- bern_pair(baseline_decaying_avg())
  model <- function() {
    if (boom) stop("boom")
    mg$model()
  }
  s <- svi(model, mg$guide, adam(lr = 0.01), tracegraph_elbo())
  set.seed(4)
  svi_step(s)
  avg <- s$store$averages$z
  boom <- TRUE
  expect_error(svi_step(s), "boom")
  expect_identical(s$store$averages$z, avg)
})

test_that("Pyro's spelling gives the same decaying average", {
  run <- function(baseline) {
    mg <- bern_pair(baseline)
    s <- svi(mg$model, mg$guide, sgd(lr = 0.01), tracegraph_elbo())
    set.seed(5)
    for (i in 1:3) svi_step(s)
    list(avg = s$store$averages$z, p = params(s))
  }
  expect_equal(run(list(use_decaying_avg_baseline = TRUE, baseline_beta = 0.95)),
               run(baseline_decaying_avg(0.95)))
  # baseline_beta defaults to 0.90; without use_decaying_avg_baseline there is no baseline
  expect_equal(run(list(use_decaying_avg_baseline = TRUE)), run(baseline_decaying_avg()))
  expect_null(run(list(baseline_beta = 0.5))$avg)
})

test_that("a learned baseline is trained by the squared error only, on a detached input", {
  input <- c(1, 2, 3)
  net <- function(u) param("bl_w", 0.3) * u + param("bl_c", -1)
  mg <- bern_pair(baseline_learned(net, input))
  set.seed(6)
  res <- elbo_loss_and_grads(tracegraph_elbo(), mg$model, mg$guide)
  z <- mg$seen$z[[1]]
  dc <- hand_cost(z)
  b <- 0.3 * input - 1
  expect_equal(as.vector(res$grads$l), -(z - plogis(c(0.5, -0.2, 0))) * (dc - b))
  expect_equal(res$grads$bl_w, sum(2 * (b - dc) * input))
  expect_equal(res$grads$bl_c, sum(2 * (b - dc)))

  # the same with Pyro's spelling, and combined with a decaying average (they add up)
  mg2 <- bern_pair(list(nn_baseline = net, nn_baseline_input = input,
                        use_decaying_avg_baseline = TRUE))
  store <- svi:::new_param_store()
  store$averages$z <- c(-1, -2, -3)
  set.seed(6)
  res2 <- elbo_loss_and_grads(tracegraph_elbo(), mg2$model, mg2$guide, store = store)
  b2 <- b + c(-1, -2, -3)
  expect_equal(as.vector(res2$grads$l), -(z - plogis(c(0.5, -0.2, 0))) * (dc - b2))
  expect_equal(res2$grads$bl_w, sum(2 * (b2 - dc) * input))
})

test_that("no gradient reaches a learned baseline's input", {
  make <- function(with_baseline) {
    model <- function() {
      u <- sample_site("u", dist_normal(0, 1))
      z <- sample_site("z", dist_bernoulli(prob = 0.5))
      sample_site("y", dist_normal(z + u, 1), obs = 0.3)
    }
    guide <- function() {
      u <- sample_site("u", dist_normal(param("m", 0.2), 1))
      bl <- if (with_baseline) baseline_learned(function(x) param("w", 5) * x, u)
      sample_site("z", dist_bernoulli(logit = param("l", 0)), infer = list(baseline = bl))
    }
    set.seed(7)
    elbo_loss_and_grads(tracegraph_elbo(), model, guide)$grads
  }
  expect_equal(make(TRUE)$m, make(FALSE)$m)
})

test_that("baseline values and shapes", {
  mg <- bern_pair(baseline_value(c(-1, -2, -3)))
  set.seed(8)
  res <- elbo_loss_and_grads(tracegraph_elbo(), mg$model, mg$guide)
  z <- mg$seen$z[[1]]
  expect_equal(as.vector(res$grads$l), -(z - plogis(c(0.5, -0.2, 0))) * (hand_cost(z) - c(-1, -2, -3)))
  # Pyro's spelling, and a baseline on a reparameterized site is ignored
  mg <- bern_pair(list(baseline_value = c(-1, -2, -3)))
  set.seed(8)
  expect_equal(elbo_loss_and_grads(tracegraph_elbo(), mg$model, mg$guide)$grads, res$grads)
  model <- function() sample_site("m", dist_normal(0, 1))
  guide <- function() sample_site("m", dist_normal(param("a", 0), 1), infer = list(baseline = baseline_value(1:5)))
  expect_no_error(elbo_loss_and_grads(tracegraph_elbo(), model, guide))
  # evaluate_loss() does not construct baselines at all
  mg <- bern_pair(baseline_learned(function(u) stop("not called"), 1))
  s <- svi(mg$model, mg$guide, adam(0.01), tracegraph_elbo())
  expect_no_error(evaluate_loss(s))
})

test_that("bad baselines are clear errors", {
  expect_snapshot(error = TRUE, baseline_decaying_avg(1))
  expect_snapshot(error = TRUE, baseline_value("a"))
  expect_snapshot(error = TRUE, baseline_learned(1, 2))
  expect_snapshot(error = TRUE, baseline_learned(function(u) u))
  expect_snapshot(baseline_decaying_avg(0.95))
  loss_with <- function(baseline) {
    mg <- bern_pair(baseline)
    elbo_loss_and_grads(tracegraph_elbo(), mg$model, mg$guide)
  }
  expect_snapshot(error = TRUE, {
    loss_with(list(use_decaying_avg_baseline = TRUE, beta = 0.9, nn = 1))
  })
  expect_snapshot(error = TRUE, {
    loss_with(list(nn_baseline = function(u) u, nn_baseline_input = 1:3, baseline_value = 1:3))
  })
  expect_snapshot(error = TRUE, loss_with(list(use_decaying_avg_baseline = "yes")))
  expect_snapshot(error = TRUE, loss_with(list(use_decaying_avg_baseline = TRUE, baseline_beta = 2)))
  expect_snapshot(error = TRUE, loss_with(list(nn_baseline = function(u) u)))
  expect_snapshot(error = TRUE, loss_with("decaying"))
  expect_snapshot(error = TRUE, loss_with(baseline_value(1)))
  expect_snapshot(error = TRUE, loss_with(baseline_learned(function(u) "a", 1)))
})
