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

test_that("sites asking for enumeration warn once that no ELBO of svi enumerates", {
  model <- function() sample_site("k", dist_bernoulli(0.3), infer = list(enumerate = "parallel"))
  guide <- function() {
    sample_site("k", dist_bernoulli(param("p", 0.5, constraint_unit_interval())),
                infer = list(enumerate = "parallel"))
  }
  set.seed(1)
  for (loss in list(trace_elbo(), tracegraph_elbo())) {
    s <- svi(model, guide, adam(), loss)
    expect_snapshot(svi_step(s))
    expect_no_warning(svi_step(s))
  }
  # only on the model side (no guide site): said too, beside the missing-guide warning
  s <- svi(model, function() NULL, adam(), trace_elbo())
  w <- character()
  withCallingHandlers(svi_step(s), warning = function(cnd) {
    w <<- c(w, conditionMessage(cnd))
    invokeRestart("muffleWarning")
  })
  expect_true(any(grepl("enumeration", w)))
  # a plain site does not warn
  plain <- function() sample_site("k", dist_bernoulli(param("p", 0.5, constraint_unit_interval())))
  expect_no_warning(svi_step(svi(function() sample_site("k", dist_bernoulli(0.3)), plain, adam(), trace_elbo())))
})
