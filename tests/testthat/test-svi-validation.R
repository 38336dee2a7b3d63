test_that("model/guide mismatches warn once per svi object, naming the sites", {
  model <- function() {
    sample_site("a", dist_normal(0, 1))
    sample_site("b", dist_normal(0, 1))
  }
  guide <- function() {
    sample_site("a", dist_normal(param("m", 0), 1))
    sample_site("c", dist_normal(0, 1))
  }
  set.seed(1)
  s <- svi(model, guide, adam(), trace_elbo())
  expect_snapshot(svi_step(s))
  expect_no_warning(svi_step(s))
  aux_guide <- function() {
    sample_site("a", dist_normal(param("m", 0), 1))
    sample_site("b", dist_normal(0, 1))
    sample_site("c", dist_normal(0, 1), infer = list(is_auxiliary = TRUE))
  }
  expect_no_warning(svi_step(svi(model, aux_guide, adam(), trace_elbo())))
})

test_that("shape disagreements between model and guide are errors naming the site", {
  model <- function() plate("p", 3, function(i) sample_site("z", dist_normal(0, 1)))
  guide <- function() plate("p", 3, function(i) sample_site("z", dist_normal(param("m", 0), 1)))
  set.seed(1)
  expect_no_warning(svi_step(svi(model, guide, adam(), trace_elbo())))
  guide2 <- function() sample_site("z", dist_normal(param("m", c(0, 0)), 1))
  expect_snapshot(svi_step(svi(model, guide2, adam(), trace_elbo())), error = TRUE)
  bad_obs <- function(y) plate("p", 3, function(i) sample_site("y", dist_normal(0, 1), obs = y))
  expect_snapshot(svi_step(svi(bad_obs, function(y) NULL, adam(), trace_elbo()), c(1, 2)), error = TRUE)
})

test_that("plates in the guide but not the model warn", {
  model <- function() sample_site("z", dist_normal(0, 1))
  guide <- function() {
    plate("extra", 2, function(i) NULL)
    sample_site("z", dist_normal(param("m", 0), 1))
  }
  set.seed(1)
  expect_snapshot(svi_step(svi(model, guide, adam(), trace_elbo())))
})

test_that("meanfield_elbo refuses non-reparameterized guides", {
  model <- function() sample_site("z", dist_normal(0, 1))
  guide <- function() sample_site("z", nonreparameterized(dist_normal(param("m", 0), 1)))
  set.seed(1)
  expect_snapshot(svi_step(svi(model, guide, adam(), meanfield_elbo())), error = TRUE)
})

test_that("dimensions not covered by a plate are event dimensions (summed)", {
  model <- function(y) sample_site("y", dist_normal(0, 1), obs = y)
  tr <- trace_model(model, c(0.5, -1, 2))
  expect_equal(tr$y$log_prob, sum(dnorm(c(0.5, -1, 2), log = TRUE)), tolerance = 1e-12)
  m2 <- function(y) plate("rows", nrow(y), function(i) sample_site("y", dist_normal(0, 1), obs = y))
  y <- matrix(c(0.1, 0.2, 0.3, -1, 0, 1), 3)
  expect_equal(trace_model(m2, y)$y$log_prob, rowSums(dnorm(y, log = TRUE)), tolerance = 1e-12)
})
