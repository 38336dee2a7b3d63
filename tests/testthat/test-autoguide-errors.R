# What an autoguide says when it cannot do what is asked: snapshots of every error case.

y8 <- c(0.3, -0.2, 1.1, 0.4)

test_that("a discrete latent site is named, with the two ways out", {
  model <- function(y) {
    k <- sample_site("k", dist_bernoulli(0.3))
    mu <- sample_site("mu", dist_normal(0, 1))
    plate("data", length(y), function(i) sample_site("obs", dist_normal(mu + k, 1), obs = y))
  }
  s <- svi(model, auto_normal(model), adam(0.01))
  expect_snapshot(svi_step(s, y8), error = TRUE)
  # hiding it is the documented fix: the guide then covers mu only
  g <- auto_normal(block(model, hide = "k"))
  fresh_default_store()
  trace_model(g, y8)
  expect_identical(svi:::autoguide_site_names(g), "mu")
})

test_that("a support depending on another latent is detected at prototype time", {
  # the message names the latent it depends on (theta), not every other one (a)
  model <- function(y) {
    a <- sample_site("a", dist_normal(0, 1))
    theta <- sample_site("theta", dist_gamma(2, 1))
    z <- sample_site("z", dist_uniform(0, theta))
    plate("data", length(y), function(i) sample_site("obs", dist_normal(z + a, 1), obs = y))
  }
  for (make in list(auto_normal, auto_mvnormal, auto_delta)) {
    set.seed(1)
    expect_snapshot(trace_model(make(model), y8), error = TRUE)
  }
  # the reparameterization the message suggests works
  model2 <- function(y) {
    theta <- sample_site("theta", dist_gamma(2, 1))
    u <- sample_site("z_raw", dist_uniform(0, 1))
    plate("data", length(y), function(i) sample_site("obs", dist_normal(theta * u, 1), obs = y))
  }
  g <- auto_normal(model2)
  expect_no_error(trace_model(g, y8))
  expect_identical(svi:::autoguide_site_names(g), c("theta", "z_raw"))
})

test_that("flattened guides refuse local latents in subsampled plates and point to auto_normal()", {
  model <- function(y) {
    mu <- sample_site("mu", dist_normal(0, 1))
    plate("data", length(y), subsample_size = 2, function(i) {
      z <- sample_site("z", dist_normal(mu, 1))
      sample_site("obs", dist_normal(z, 1), obs = y[i])
    })
  }
  for (make in list(auto_diagonal_normal, auto_mvnormal, auto_lowrank_mvnormal, auto_laplace)) {
    expect_snapshot(trace_model(make(model), y8), error = TRUE)
  }
  fresh_default_store()
  expect_no_error(trace_model(auto_normal(model), y8))
})

test_that("plates an autoguide cannot lay its parameters along are named", {
  m_matrix <- function() plate("groups", 2, function(i) sample_site("L", dist_lkj_cholesky(2, 1)))
  expect_snapshot(trace_model(auto_normal(m_matrix)), error = TRUE)
  m_inner <- function() {
    plate("rows", 3, function(i) plate("cols", 4, subsample_size = 2, function(j) sample_site("z", dist_normal(0, 1))))
  }
  expect_snapshot(trace_model(auto_normal(m_inner)), error = TRUE)
  # bounds read from the minibatch's rows: not a latent dependence (the support check replays
  # the same minibatch), but bounds that vary by element of a subsampled plate
  lower <- c(0, 1, 0, 1)
  m_bounds <- function() plate("data", 4, subsample_size = 2, function(i) sample_site("z", dist_uniform(lower[i], 2)))
  set.seed(1)
  expect_snapshot(trace_model(auto_normal(m_bounds)), error = TRUE)
})

test_that("a model without latent sites is an error", {
  model <- function(y) plate("data", length(y), function(i) sample_site("obs", dist_normal(0, 1), obs = y))
  expect_snapshot(trace_model(auto_normal(model), y8), error = TRUE)
  expect_snapshot(trace_model(auto_mvnormal(model), y8), error = TRUE)
})

test_that("no valid start after 100 tries names the site whose density is not finite", {
  model <- function(y) {
    theta <- sample_site("theta", dist_exponential(1))
    plate("data", length(y), function(i) sample_site("obs", dist_uniform(0, theta + 1), obs = y))
  }
  expect_snapshot(trace_model(auto_normal(model), c(5, 6)), error = TRUE)
  # a random strategy eventually finds a start (theta > 5 has prior mass under uniform(-2, 2)
  # in log space: exp(2) > 6)
  set.seed(1)
  fresh_default_store()
  g <- auto_normal(model, init_loc_fn = init_to_uniform())
  expect_no_error(trace_model(g, c(5, 6)))
  expect_gt(svi:::autoguide_state(g)$proto$sites$theta$value, 5)      # the start it kept is valid
})

test_that("a start where the log-density is finite but its gradient is not is drawn again", {
  # loc = sqrt(x): finite at x = 0, with an infinite derivative there
  model <- function() {
    x <- sample_site("x", dist_normal(0, 1))
    sample_site("obs", dist_normal(sqrt(x), 1), obs = 0.3)
  }
  # a strategy whose first value is 0, then 1
  calls <- 0
  first_zero <- svi:::new_init_strategy("test", function(site) {
    calls <<- calls + 1
    if (calls == 1) 0 else 1
  })
  fresh_default_store()
  g <- auto_delta(model, init_loc_fn = first_zero)
  expect_no_error(trace_model(g))
  expect_equal(calls, 2)
  expect_equal(svi:::autoguide_state(g)$proto$sites$x$value, 1)
  # the gradient is checked in unconstrained space, through other sites' parameters: here
  # s = exp(u) and the derivative of sqrt(s - 1) at s = 1 is infinite
  model2 <- function() {
    s <- sample_site("s", dist_gamma(2, 1))
    sample_site("obs", dist_normal(sqrt(s - 1), 1), obs = 0.3)
  }
  fresh_default_store()
  expect_no_error(trace_model(auto_normal(model2, init_loc_fn = init_to_value(list(s = 2)))))
  # a strategy that keeps giving such a start ends in an error naming the site and the gradient
  expect_snapshot(trace_model(auto_normal(model2, init_loc_fn = init_to_value(list(s = 1)))), error = TRUE)
  expect_snapshot(trace_model(auto_delta(model, init_loc_fn = init_to_feasible())), error = TRUE)
})

test_that("bad settings and init values", {
  model <- function() sample_site("s", dist_gamma(2, 1))
  expect_snapshot({
    auto_normal(model, init_scale = -1)
    auto_lowrank_mvnormal(model, rank = 0)
    auto_normal(model, init_loc_fn = "median")
    auto_normal("model")
  }, error = TRUE)
  expect_snapshot(trace_model(auto_normal(model, init_loc_fn = init_to_value(list(s = -1)))), error = TRUE)
  expect_snapshot(trace_model(auto_normal(model, init_loc_fn = init_to_value(list(s = c(1, 2))))), error = TRUE)
  expect_snapshot(trace_model(auto_normal(model, init_loc_fn = init_to_value(list(), fallback = NULL))), error = TRUE)
  expect_snapshot({
    auto_lowrank_mvnormal(model, rank = 1.5)
    auto_mvnormal(model, init_scale = NA)
    init_to_median(num_samples = 0)
    init_to_median(fallback = "feasible")
    init_to_mean(fallback = 2)
    init_to_uniform(radius = -1)
    init_to_value(list(1, 2))
    init_to_value(list(s = 1), fallback = mean)
  }, error = TRUE)
})

test_that("summaries need an autoguide; a point estimate has no quantiles", {
  model <- function() sample_site("s", dist_gamma(2, 1))
  guide <- function() sample_site("s", dist_gamma(param("a", 2, constraint_positive()), 1))
  s <- svi(model, guide, adam(0.01))
  expect_snapshot(median(s), error = TRUE)
  s2 <- svi(model, auto_delta(model), adam(0.01))
  svi_step(s2)
  expect_snapshot(quantile(s2), error = TRUE)
  s3 <- svi(model, auto_laplace(model), adam(0.01))
  svi_step(s3)
  expect_snapshot(quantile(s3), error = TRUE)
  expect_snapshot(median(svi(model, auto_normal(model), adam(0.01))), error = TRUE)
  model_y <- function(y) sample_site("s", dist_gamma(2, 1))
  s4 <- svi(model_y, auto_normal(model_y), adam(0.01))
  svi_step(s4, y8)
  expect_snapshot(median(s4, y8), error = TRUE)
  expect_snapshot(median(s4, FALSE, y8), error = TRUE)
  expect_snapshot(laplace_approximation(s2), error = TRUE)
  expect_snapshot({
    median(s4, na.rm = "y")
    median(s4, args = y8)
    quantile(s4, probs = c(0.1, 1.2), y = y8)
  }, error = TRUE)
})

test_that("laplace_approximation() names what it needs", {
  model <- function() sample_site("s", dist_gamma(2, 1))
  s <- svi(model, auto_laplace(model), adam(0.01))
  expect_snapshot(laplace_approximation(s), error = TRUE)     # no steps yet
  svi_step(s)
  expect_snapshot({
    laplace_approximation(list())
    laplace_approximation(s, step = 0)
  }, error = TRUE)
})

test_that("guide lists refuse overlapping parts", {
  model <- function() {
    a <- sample_site("a", dist_normal(0, 1))
    sample_site("b", dist_normal(a, 1))
  }
  g <- auto_guide_list(model, auto_normal(model), auto_delta(block(model, expose = "b")))
  expect_snapshot(trace_model(g), error = TRUE)
  # disjoint parts are fine
  g2 <- auto_guide_list(model, auto_normal(block(model, hide = "b")), auto_delta(block(model, expose = "b")))
  expect_identical(names(trace_model(g2))[names(trace_model(g2)) %in% c("a", "b")], c("a", "b"))
  expect_snapshot(auto_guide_list(model, auto_mvnormal(block(model, expose = "a")), auto_mvnormal(block(model, hide = "a"))),
                  error = TRUE)
  expect_snapshot(block(model, hide = "a", expose = "b"), error = TRUE)
  expect_snapshot({
    auto_guide_list(model)
    auto_guide_list(model, auto_normal(model), "b")
    auto_guide_list(model, 1, auto_normal(model), "b")
    auto_guide_list(model, auto_guide_list(model, auto_normal(model)))
    auto_guide_list("model", auto_normal(model))
  }, error = TRUE)
})

test_that("a singular Hessian names the sites along the flat direction", {
  # only a + b is identified (priors with sd 1e5 leave a - b flat)
  model <- function(y) {
    a <- sample_site("a", dist_normal(0, 1e5))
    b <- sample_site("b", dist_normal(0, 1e5))
    c0 <- sample_site("c", dist_normal(0, 1))
    plate("data", length(y), function(i) sample_site("obs", dist_normal(a + b, 1), obs = y))
  }
  set.seed(1)
  s <- svi(model, auto_laplace(model, init_loc_fn = init_to_value(list(a = 0, b = 0, c = 0))), adam(0.05))
  for (i in 1:300) svi_step(s, y8)
  expect_snapshot(laplace_approximation(s, y8), error = TRUE)
})

test_that("an indefinite Hessian (a fit stopped away from the mode) names the site", {
  # the Cauchy's negative log-density log(1 + x^2) curves downwards for |x| > 1: at x = 3 the
  # Hessian is 2 (1 - 9) / 100 = -0.16
  model <- function() sample_site("x", dist_cauchy(0, 1))
  s <- svi(model, auto_laplace(model, init_loc_fn = init_to_value(list(x = 3))), sgd(1e-12))
  svi_step(s)
  expect_snapshot(laplace_approximation(s), error = TRUE)
})
