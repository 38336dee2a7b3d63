fx_trained <- function() {
  set.seed(31)
  s <- fx_svi()
  svi_run(s, fx_y, num_steps = 200, progress = FALSE)
}

test_that("posterior_draws draws the guide with the fitted parameters, as plain numerics", {
  fit <- fx_trained()
  p <- params(fit)
  set.seed(1)
  d <- posterior_draws(fit, num_samples = 4000)
  expect_s3_class(d, "svi_draws")
  expect_named(d, "mu")
  expect_type(d$mu, "double")
  expect_length(d$mu, 4000)
  expect_equal(mean(d$mu), p$loc, tolerance = 4 * p$scale / sqrt(4000))
  expect_equal(sd(d$mu), p$scale, tolerance = 0.05)
  # exactly what running the guide by hand gives
  set.seed(1)
  by_hand <- vapply(1:4000, function(i) rnorm(1, p$loc, p$scale), 1)
  expect_equal(d$mu, by_hand)
  # an svi object and its latest fit give the same draws; nothing changed
  before <- fx_state(fit$svi)
  set.seed(2)
  a <- posterior_draws(fit$svi, fx_y, num_samples = 10)
  set.seed(2)
  b <- posterior_draws(fit, num_samples = 10)
  expect_identical(a, b)
  expect_identical(fx_state(fit$svi), before)
})

test_that("draws of vector and matrix sites keep their shapes, draws first", {
  guide <- function() {
    sample_site("w", dist_normal(c(1, 2, 3), 0.1))
    sample_site("z", dist_normal(matrix(1:6, 2, 3), 0.1))
    sample_site("b", dist_normal(5, 0.1))
  }
  model <- function() {
    sample_site("w", dist_normal(numeric(3), 1))
    sample_site("z", dist_normal(matrix(0, 2, 3), 1))
    sample_site("b", dist_normal(0, 1))
  }
  s <- svi(model, guide, adam(0.01))
  set.seed(3)
  d <- posterior_draws(s, num_samples = 50)
  expect_identical(dim(d$w), c(50L, 3L))
  expect_identical(dim(d$z), c(50L, 2L, 3L))
  expect_null(dim(d$b))
  expect_equal(colMeans(d$w), c(1, 2, 3), tolerance = 0.02)
  expect_equal(apply(d$z, c(2, 3), mean), matrix(1:6, 2, 3), tolerance = 0.02)
  m <- as.matrix(d)
  expect_identical(colnames(m), c("w[1]", "w[2]", "w[3]", "z[1,1]", "z[2,1]", "z[1,2]",
                                  "z[2,2]", "z[1,3]", "z[2,3]", "b"))
  expect_identical(m[, "z[2,3]"], d$z[, 2, 3])
  expect_identical(dim(as.data.frame(d)), c(50L, 10L))
  expect_snapshot(print(posterior_draws(s, num_samples = 1)))
})

test_that("posterior::as_draws_df converts draws, and its means match summary()", {
  skip_if_not_installed("posterior")
  fit <- fx_trained()
  set.seed(9)
  d <- posterior_draws(fit, num_samples = 300)
  df <- posterior::as_draws_df(d)
  expect_s3_class(df, "draws_df")
  expect_identical(posterior::variables(df), "mu")
  expect_identical(posterior::ndraws(df), 300L)
  expect_identical(as.numeric(df$mu), d$mu)
  set.seed(9)
  sm <- summary(fit, num_samples = 300)
  expect_equal(mean(df$mu), sm$latent$mean)
  expect_s3_class(posterior::as_draws(d), "draws_df")
  expect_s3_class(posterior::as_draws_matrix(d), "draws_matrix")
  s2 <- posterior::summarise_draws(df)
  expect_equal(as.numeric(s2$mean), sm$latent$mean)
})

test_that("predictive conditions the model on guide draws and resamples observed sites", {
  fit <- fx_trained()
  set.seed(4)
  pp <- predictive(fx_model, fit, num_samples = 3000)
  set.seed(4)
  d <- posterior_draws(fit, num_samples = 3000)
  expect_named(pp, c("mu", "obs"))
  expect_identical(pp$mu, d$mu)                  # the latents are the guide's draws
  expect_identical(dim(pp$obs), c(3000L, length(fx_y)))
  expect_false(any(pp$obs == rep(fx_y, each = 3000)))   # observed data were resampled
  # obs | mu ~ N(mu, 1): residuals are standard normal and independent of mu
  r <- pp$obs - pp$mu
  expect_equal(mean(r), 0, tolerance = 0.02)
  expect_equal(sd(as.vector(r)), 1, tolerance = 0.02)
  expect_lt(abs(cor(pp$mu, r[, 1])), 0.06)
  # return_sites and the return value
  set.seed(4)
  only <- predictive(fx_model, fit, num_samples = 5, return_sites = c("obs", "_RETURN"))
  expect_named(only, c("obs", "_RETURN"))
  expect_identical(only$obs, only[["_RETURN"]])   # the model returns the plate's value
  # new data give predictions of the new size
  pp_new <- predictive(fx_model, fit, c(1, 2, 3), num_samples = 5)
  expect_identical(dim(pp_new$obs), c(5L, 3L))
})

test_that("predictive and posterior_draws explain what they cannot do", {
  fit <- fx_trained()
  sub_guide <- function(y) {
    plate("data", length(y), subsample_size = 3, function(i) {
      sample_site("z", dist_normal(numeric(length(i)) + param("m", 0), 1))
    })
  }
  s <- svi(fx_model, sub_guide, adam(0.01))
  set.seed(1)
  expect_snapshot(error = TRUE, {
    predictive(fx_model, fit, num_samples = 5, return_sites = "nope")
    predictive(fx_model, fit, num_samples = 5, return_sites = 1)
    predictive("model", fit)
    posterior_draws(fit, num_samples = 0)
    posterior_draws(list())
  })
  expect_snapshot(error = TRUE, posterior_draws(s, c(1, 2, 3, 4, 5, 6, 7), num_samples = 30))
})
