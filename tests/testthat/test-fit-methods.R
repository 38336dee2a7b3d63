fx_fit <- function(num_steps = 300, ...) {
  set.seed(21)
  fit <- svi_run(fx_svi(), fx_y, num_steps = num_steps, progress = FALSE, ...)
  fit$time <- 1.234   # fixed, for stable snapshots
  fit
}

test_that("print shows steps, losses, stop reason and parameters", {
  fit <- fx_fit()
  expect_snapshot(print(fit))
  capture.output(res <- withVisible(print(fit)))
  expect_false(res$visible)
  expect_identical(res$value, fit)
  cb <- function(info) info$step < 12
  fit <- fx_fit(callback = cb)
  expect_snapshot(fit)
  set.seed(1)
  fit <- svi_run(fx_svi(), fx_y, num_steps = 5, progress = FALSE, validation = list(c(3, 3.2)))
  fit$time <- 0.5
  expect_snapshot(fit)
})

test_that("summary reports parameters and guide-draw posterior summaries", {
  fit <- fx_fit()
  set.seed(5)
  sm <- summary(fit, num_samples = 2000)
  expect_s3_class(sm, "summary.svi_fit")
  expect_snapshot(sm)
  p <- params(fit)
  expect_identical(sm$params$variable, c("loc", "scale"))
  expect_identical(sm$params$value, c(p$loc, p$scale))
  expect_identical(sm$latent$variable, "mu")
  expect_named(sm$latent, c("variable", "mean", "sd", "2.5%", "50%", "97.5%"))
  # the guide is N(loc, scale): the draws' summaries estimate it
  expect_equal(sm$latent$mean, p$loc, tolerance = 4 * p$scale / sqrt(2000))
  expect_equal(sm$latent$sd, p$scale, tolerance = 0.05)
  expect_equal(sm$latent[["97.5%"]], qnorm(0.975, p$loc, p$scale), tolerance = 0.05)
  # posterior means from posterior_draws() with the same seed are the summary's means
  set.seed(5)
  d <- posterior_draws(fit, num_samples = 2000)
  expect_identical(sm$latent$mean, mean(d$mu))
  sm1 <- summary(fit, num_samples = 50, probs = 0.9)
  expect_named(sm1$latent, c("variable", "mean", "sd", "90%"))
  expect_snapshot(error = TRUE, summary(fit, probs = 2))
})

test_that("summary lists vector and matrix sites element by element, and truncates long tables", {
  model <- function() {
    w <- sample_site("w", dist_normal(numeric(3), 1))
    sample_site("z", dist_normal(matrix(0, 2, 2), 1))
  }
  guide <- function() {
    sample_site("w", dist_normal(param("w_loc", c(1, 2, 3)), 0.1))
    sample_site("z", dist_normal(param("z_loc", matrix(1:4, 2, 2)), 0.1))
  }
  set.seed(2)
  fit <- svi_run(svi(model, guide, adam(lr = 0.01)), num_steps = 2, progress = FALSE)
  set.seed(2)
  sm <- summary(fit, num_samples = 100)
  expect_identical(sm$latent$variable, c("w[1]", "w[2]", "w[3]", "z[1,1]", "z[2,1]", "z[1,2]", "z[2,2]"))
  expect_identical(sm$params$variable, c("w_loc[1]", "w_loc[2]", "w_loc[3]",
                                         "z_loc[1,1]", "z_loc[2,1]", "z_loc[1,2]", "z_loc[2,2]"))
  expect_equal(sm$latent$mean, as.vector(c(params(fit)$w_loc, params(fit)$z_loc)), tolerance = 0.05)
  out <- capture.output(print(sm, n = 3))
  expect_true(any(grepl("... and 4 more rows", out, fixed = TRUE)))
})

test_that("as.data.frame has one row per step", {
  fit <- fx_fit(num_steps = 25)
  d <- as.data.frame(fit)
  expect_identical(dim(d), c(25L, 3L))
  expect_identical(d$step, 1:25)
  expect_identical(d$loss, fit$loss)
  expect_identical(d$smoothed_loss, fit$smoothed_loss)
})

test_that("plot draws the losses with base graphics", {
  fit <- fx_fit()
  path <- withr::local_tempfile(fileext = ".png")
  grDevices::png(path)
  expect_invisible(plot(fit))
  expect_invisible(plot(fit, log = ""))
  grDevices::dev.off()
  expect_gt(file.size(path), 1000)
  expect_identical(fit_log_axis(data.frame(step = 1:2, loss = c(1000, 12)), NULL), "y")
  expect_identical(fit_log_axis(data.frame(step = 1:2, loss = c(100, 12)), NULL), "")
  expect_identical(fit_log_axis(data.frame(step = 1:2, loss = c(-1, 5000)), NULL), "")
  expect_identical(fit_log_axis(data.frame(step = 1:2, loss = c(1000, 12)), ""), "")
})

test_that("autoplot gives a ggplot when ggplot2 is installed", {
  skip_if_not_installed("ggplot2")
  fit <- fx_fit(validation = list(c(3, 3.2)))
  p <- ggplot2::autoplot(fit)
  expect_s3_class(p, "ggplot")
  built <- ggplot2::ggplot_build(p)
  expect_length(built$data[[1]]$x, 3L * 300L)
})

test_that("knitr prints the summary as markdown tables", {
  skip_if_not_installed("knitr")
  fit <- fx_fit()
  set.seed(5)
  out <- knitr::knit_print(summary(fit, num_samples = 500))
  expect_s3_class(out, "knit_asis")
  expect_snapshot(cat(out))
})

test_that("params() of a fit are those at the end of its run", {
  set.seed(1)
  s <- fx_svi()
  fit <- svi_run(s, fx_y, num_steps = 10, progress = FALSE)
  p10 <- params(s)
  svi_run(s, fx_y, num_steps = 10, progress = FALSE)
  expect_identical(params(fit), p10)
  expect_false(identical(params(s), p10))
})
