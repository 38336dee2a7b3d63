# k-hat of the guide as an importance sampler (Yao et al. 2018), on models whose posterior is
# known, so the right answer is known too.

skip_if_not_installed("loo")

post <- fx_posterior(fx_y)
scaled_guide <- function(factor) {
  force(factor)
  function(y) {
    sample_site("mu", dist_normal(param("loc", post$mean),
                                  param("scale", factor * post$sd, constraint = constraint_positive())))
  }
}

test_that("k-hat is small for the exact posterior and large for a guide 0.3 times too narrow", {
  set.seed(1)
  good <- svi_diagnose(fx_svi(guide = scaled_guide(1)), fx_y, num_samples = 1000)
  expect_lt(good$khat, 0.5)
  expect_identical(good$status, "good")
  expect_equal(good$threshold, 1 - 1 / log10(1000))
  # with the exact posterior as guide every log ratio is log p(y): no Monte Carlo error at all
  expect_lt(diff(range(good$log_ratios)), 1e-8)
  # log p(y) from Bayes' rule at any mu (here 0)
  log_evidence <- sum(dnorm(fx_y, 0, 1, log = TRUE)) + dnorm(0, 0, 10, log = TRUE) - dnorm(0, post$mean, post$sd, log = TRUE)
  expect_equal(good$elbo, log_evidence, tolerance = 1e-8)
  expect_equal(good$n_eff, 1000, tolerance = 1e-6)
  set.seed(2)
  bad <- svi_diagnose(fx_svi(guide = scaled_guide(0.3)), fx_y, num_samples = 4000)
  expect_gt(bad$khat, 0.7)
  expect_true(bad$status %in% c("poor", "very_poor"))
  expect_snapshot(print(bad), transform = function(x) gsub("[0-9]+\\.[0-9]+", "<num>", x))
  expect_true(any(grepl("misses posterior mass|far from the posterior", capture.output(print(bad)))))
  expect_true(any(grepl("above 0.7", capture.output(print(bad)), fixed = TRUE)))
})

test_that("the per-parameter k-hat points at the one mis-scaled parameter of five", {
  model <- function() sample_site("z", dist_normal(c(0, 1, 2, 3, 4), 1))
  guide <- function() {
    sample_site("z", dist_normal(param("m", c(0, 1, 2, 3, 4)),
                                 param("s", c(1, 1, 0.3, 1, 1), constraint = constraint_positive())))
  }
  set.seed(3)
  d <- svi_diagnose(svi(model, guide, adam(0.01)), num_samples = 2000)
  expect_gt(d$khat, 0.7)
  expect_identical(names(which.max(d$khat_params)), "z[3]")
  expect_gt(d$khat_params[["z[3]"]], 0.5)
  expect_true(all(d$khat_params[-3] < 0.5))
  expect_match(paste(capture.output(print(d)), collapse = "\n"), "points at: z[3]", fixed = TRUE)
  # rstan's functional k-hat is kept too; it shares the joint tail
  expect_named(d$khat_functional, paste0("z[", 1:5, "]"))
})

test_that("a mean-field guide of a correlated posterior is caught, and a full-rank guide fixes it", {
  S <- matrix(c(1, 0.95, 0.95, 1), 2)
  model <- function() sample_site("z", dist_mvnormal(c(0, 0), cov = S))
  # the mean-field optimum of KL(q || p) for a Gaussian: the conditional sds
  # (written as a multivariate normal with a diagonal factor, to match the model's event shape)
  mf <- function() sample_site("z", dist_mvnormal(param("m", c(0, 0)), scale_tril = diag(sqrt(1 - 0.95^2), 2)))
  fr <- function() sample_site("z", dist_mvnormal(param("m", c(0, 0)), scale_tril = param("L", t(chol(S)), constraint = constraint_lower_cholesky())))
  set.seed(4)
  d_mf <- svi_diagnose(svi(model, mf, adam(0.01)), num_samples = 1000)
  d_fr <- svi_diagnose(svi(model, fr, adam(0.01)), num_samples = 1000)
  expect_gt(d_mf$khat, 0.7)
  expect_lt(d_fr$khat, 0.5)
  # neither element alone is wrong: the message says the dependence is missing
  expect_match(paste(capture.output(print(d_mf)), collapse = " "), "dependence between parameters")
})

test_that("k-hat works for fitted autoguides: auto_normal misses a correlation that auto_mvnormal captures", {
  S <- matrix(c(1, 0.95, 0.95, 1), 2)
  model <- function() sample_site("z", dist_mvnormal(c(0, 0), cov = S))
  set.seed(1)
  f_n <- svi_run(svi(model, auto_normal(model), adam(0.02), compile = TRUE), num_steps = 3000, progress = FALSE)
  f_m <- svi_run(svi(model, auto_mvnormal(model), adam(0.02), compile = TRUE), num_steps = 3000, progress = FALSE)
  # measured (4000 draws): auto_normal 0.72 (0.71 to 0.91 over seeds 2 to 5), auto_mvnormal
  # 0.13 (0.13 to 0.29)
  set.seed(2)
  d_n <- svi_diagnose(f_n, num_samples = 4000, per_parameter = FALSE)
  set.seed(2)
  d_m <- svi_diagnose(f_m, num_samples = 4000, per_parameter = FALSE)
  expect_gt(d_n$khat, 0.7)
  expect_lt(d_m$khat, 0.5)
  expect_identical(d_m$status, "good")
  expect_named(d_n$khat_functional, c("z[1]", "z[2]"))
})

test_that("importance resampling corrects a guide that is slightly too narrow", {
  set.seed(5)
  s <- fx_svi(guide = scaled_guide(0.8))
  plain <- posterior_draws(s, fx_y, num_samples = 4000)
  set.seed(5)
  res <- posterior_draws(s, fx_y, num_samples = 4000, importance_resample = TRUE)
  expect_s3_class(res, "svi_draws")
  expect_lt(attr(res, "khat"), 0.7)
  expect_equal(sd(plain$mu), 0.8 * post$sd, tolerance = 0.05)
  expect_equal(sd(res$mu), post$sd, tolerance = 0.06)
  expect_equal(mean(res$mu), post$mean, tolerance = 0.01)
  # as many draws as asked for (PSIS itself runs on at least 10, too few for a k-hat)
  expect_warning(few <- posterior_draws(s, fx_y, num_samples = 3, importance_resample = TRUE),
                 "k-hat is Inf")
  expect_identical(attr(few, "num_samples"), 3L)
  expect_length(few$mu, 3L)
})

test_that("svi_diagnose explains what it cannot do", {
  s <- fx_svi()
  expect_snapshot(error = TRUE, {
    svi_diagnose(s, fx_y, num_samples = 5)
    svi_diagnose(list())
  })
  mb_model <- function(y) {
    mu <- sample_site("mu", dist_normal(0, 10))
    plate("data", length(y), subsample_size = 2, function(i) sample_site("obs", dist_normal(mu, 1), obs = y[i]))
  }
  expect_snapshot(error = TRUE, svi_diagnose(svi(mb_model, fx_guide, adam(0.01)), fx_y, num_samples = 20))
  # what it says when neither loo nor posterior (>= 1.5.0) is installed
  expect_snapshot(error = TRUE, cli::cli_abort(psis_missing_message()))
})
