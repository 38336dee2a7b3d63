# Summaries with names, the model generics, posterior and bayesplot.

lm_model <- function(X, y) {
  b <- sample_site("b", dist_normal(rep(0, ncol(X)), 10))
  plate("data", length(y), function(i) sample_site("y", dist_normal(X %*% b, 1), obs = y))
}
lm_guide <- function(X, y) {
  sample_site("b", dist_normal(param("b_loc", rep(0, ncol(X)), names = colnames(X)),
                               param("b_scale", rep(0.5, ncol(X)), constraint = constraint_positive())))
}
lm_data <- function() {
  set.seed(11)
  x <- rnorm(60)
  g <- factor(sample(c("a", "b"), 60, replace = TRUE))
  X <- model.matrix(~ x + g)
  list(X = X, y = as.vector(X %*% c(1, 2, -1) + rnorm(60)))
}

test_that("coefficients are named from the design matrix, and coef/vcov/fitted/predict agree with lm", {
  d <- lm_data()
  set.seed(1)
  fit <- svi_run(svi(lm_model, lm_guide, adam(0.05)), d$X, d$y, num_steps = 3000,
                 stop = "stationary", progress = FALSE)
  set.seed(2)
  sm <- summary(fit, num_samples = 1000)
  expect_identical(sm$latent$variable, c("b[(Intercept)]", "b[x]", "b[gb]"))
  expect_identical(sm$params$variable[1:3], c("b_loc[(Intercept)]", "b_loc[x]", "b_loc[gb]"))
  ref <- lm(d$y ~ d$X - 1)
  set.seed(3)
  cf <- coef(fit, num_samples = 4000)
  expect_named(cf, c("b[(Intercept)]", "b[x]", "b[gb]"))
  # flat-ish prior, unit noise: the posterior mean is the least-squares fit
  expect_equal(unname(cf), unname(coef(ref)), tolerance = 0.03)
  set.seed(4)
  v <- vcov(fit, num_samples = 4000)
  expect_identical(dimnames(v), list(names(cf), names(cf)))
  # the mean-field optimum for a Gaussian posterior: variances 1 / diag(precision), smaller
  # than the exact marginal variances where the coefficients are correlated
  prec <- crossprod(d$X) + diag(1 / 100, 3)
  expect_equal(unname(diag(v)), unname(1 / diag(prec)), tolerance = 0.15)
  expect_true(all(diag(v) < diag(solve(prec))))
  # a mean-field Normal guide: exact, the squared scales on the diagonal
  expect_equal(unname(diag(v)), unname(params(fit)$b_scale^2), tolerance = 1e-12)
  expect_identical(v[upper.tri(v)], c(0, 0, 0))
  set.seed(5)
  f <- fitted(fit, num_samples = 500)
  expect_length(f, 60)
  expect_equal(as.vector(f), as.vector(d$X %*% cf), tolerance = 0.05)
  newX <- cbind(1, c(-1, 0, 1), c(0, 1, 0))
  set.seed(6)
  p <- predict(fit, newdata = list(X = newX, y = numeric(3)), num_samples = 2000)
  expect_equal(as.vector(p), as.vector(newX %*% cf), tolerance = 0.1)
  expect_snapshot(error = TRUE, predict(fit, newdata = newX))
})

test_that("vcov is exact for (multivariate) Normal guide sites and from draws otherwise", {
  model <- function() {
    sample_site("z", dist_mvnormal(c(0, 0), cov = matrix(c(1, 0.5, 0.5, 1), 2)))
    sample_site("w", dist_normal(0, 1))
  }
  guide <- function() {
    L <- param("L", matrix(c(1, 0.3, 0, 0.8), 2), constraint = constraint_lower_cholesky())
    sample_site("z", dist_mvnormal(param("m", c(0, 0)), scale_tril = L))
    sample_site("w", dist_normal(param("w_loc", 0), 0.5))
  }
  fit <- svi_run(svi(model, guide, adam(0.01)), num_steps = 3, progress = FALSE)
  v <- vcov(fit)
  L <- params(fit)$L
  expect_identical(dimnames(v), rep(list(c("z[1]", "z[2]", "w")), 2))
  expect_equal(v[1:2, 1:2], tcrossprod(L), ignore_attr = TRUE, tolerance = 1e-12)
  expect_identical(unname(v[3, ]), c(0, 0, 0.25))
  # a later site whose mean is an earlier draw: var(c) = 1 + 0.5^2 and cov(a, c) = 1, from draws
  dep_model <- function() sample_site("c", dist_normal(sample_site("a", dist_normal(0, 1)), 1))
  dep_guide <- function() sample_site("c", dist_normal(sample_site("a", dist_normal(param("ma", 0), 1)), 0.5))
  fit <- svi_run(svi(dep_model, dep_guide, adam(0.01)), num_steps = 3, progress = FALSE)
  set.seed(1)
  v <- vcov(fit, num_samples = 20000)
  expect_equal(unname(v), matrix(c(1, 1, 1, 1.25), 2), tolerance = 0.03)
  # a Gamma guide (variance shape / rate^2), from draws
  g_model <- function() sample_site("r", dist_gamma(2, 1))
  g_guide <- function() sample_site("r", dist_gamma(param("a", 3, constraint = constraint_positive()), 2))
  fit <- svi_run(svi(g_model, g_guide, adam(0.01)), num_steps = 3, progress = FALSE)
  set.seed(2)
  expect_equal(vcov(fit, num_samples = 20000)[[1]], params(fit)$a / 4, tolerance = 0.03)
})

test_that("the summary leaves out Cholesky zeros, prints every row with n = Inf and says how many it left out", {
  model <- function() {
    z <- sample_site("z", dist_mvnormal(rep(0, 3), cov = diag(3)))
    sample_site("w", dist_normal(rep(0, 25), 1))
  }
  guide <- function() {
    sample_site("z", dist_mvnormal(param("m", rep(0, 3)),
                                   scale_tril = param("L", diag(3), constraint = constraint_lower_cholesky())))
    sample_site("w", dist_normal(param("w_loc", rep(0, 25)), 1))
  }
  set.seed(1)
  fit <- svi_run(svi(model, guide, adam(0.01)), num_steps = 5, progress = FALSE)
  set.seed(1)
  sm <- summary(fit, num_samples = 200, diagnose = FALSE)
  # the factor's 9 elements less its 3 structural zeros
  expect_identical(grep("^L\\[", sm$params$variable, value = TRUE),
                   c("L[1,1]", "L[2,1]", "L[3,1]", "L[2,2]", "L[3,2]", "L[3,3]"))
  expect_identical(nrow(sm$latent), 28L)
  out <- capture.output(print(sm))
  expect_match(out, "and 8 more rows", all = FALSE)
  expect_snapshot(print(sm, n = 5, digits = 2))
  all_rows <- capture.output(print(sm, n = Inf))
  expect_false(any(grepl("more rows", all_rows)))
  expect_true(any(grepl("w[25]", all_rows, fixed = TRUE)))
})

test_that("summary includes the k-hat diagnosis", {
  skip_if_not_installed("loo")
  set.seed(1)
  fit <- svi_run(fx_svi(), fx_y, num_steps = 1500, stop = "stationary", progress = FALSE)
  set.seed(2)
  sm <- summary(fit)
  expect_s3_class(sm$diagnosis, "svi_diagnosis")
  expect_lt(sm$diagnosis$khat, 0.5)
  expect_match(capture.output(print(sm)), "Pareto k-hat", all = FALSE)
  sm$fit$time <- 1.234
  expect_snapshot(print(sm))
})

test_that("a parameter asked for again with another shape is an error naming both shapes", {
  guide <- function(y, k) sample_site("mu", dist_normal(param("loc", rep(0, k))[1], 1))
  model <- function(y, k) fx_model(y)
  s <- svi(model, guide, adam(0.01))
  svi_step(s, fx_y, 2)
  svi_step(s, fx_y, 2)
  expect_snapshot(error = TRUE, svi_step(s, fx_y, 3))
  expect_snapshot(error = TRUE, param("p", c(1, 2), names = c("a", "b", "c")))
})

test_that("posterior's as_draws_df/matrix/rvars convert draws and fits", {
  skip_if_not_installed("posterior")
  d <- lm_data()
  set.seed(1)
  fit <- svi_run(svi(lm_model, lm_guide, adam(0.05)), d$X, d$y, num_steps = 200, progress = FALSE)
  set.seed(2)
  dm <- posterior::as_draws_matrix(fit, num_samples = 100)
  expect_s3_class(dm, "draws_matrix")
  expect_identical(posterior::variables(dm), c("b[(Intercept)]", "b[x]", "b[gb]"))
  expect_identical(posterior::ndraws(dm), 100L)
  set.seed(2)
  draws <- posterior_draws(fit, num_samples = 100)
  expect_equal(unclass(dm), unclass(posterior::as_draws_matrix(draws)), ignore_attr = TRUE)
  df <- posterior::as_draws_df(draws)
  expect_s3_class(df, "draws_df")
  expect_equal(mean(df[["b[x]"]]), mean(draws$b[, 2]))
  rv <- posterior::as_draws_rvars(draws)
  expect_s3_class(rv, "draws_rvars")
  expect_identical(names(rv), "b")
})

test_that("pp_check draws a bayesplot check of the observed site", {
  skip_if_not_installed("bayesplot")
  set.seed(1)
  fit <- svi_run(fx_svi(), fx_y, num_steps = 300, progress = FALSE)
  set.seed(2)
  p <- bayesplot::pp_check(fit, ndraws = 10)
  expect_s3_class(p, "ggplot")
  p2 <- bayesplot::pp_check(fit, type = "stat", ndraws = 30, stat = "mean", binwidth = 0.1)
  expect_s3_class(p2, "ggplot")
  expect_snapshot(error = TRUE, bayesplot::pp_check(fit, type = "nonsense"))
})
