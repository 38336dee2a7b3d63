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
  model <- function(y) {
    theta <- sample_site("theta", dist_gamma(2, 1))
    z <- sample_site("z", dist_uniform(0, theta))
    plate("data", length(y), function(i) sample_site("obs", dist_normal(z, 1), obs = y))
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
  expect_no_error(trace_model(auto_normal(model, init_loc_fn = init_to_uniform()), c(5, 6)))
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
