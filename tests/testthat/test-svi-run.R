test_that("svi_run takes the same steps as svi_step and records raw and smoothed losses", {
  set.seed(3)
  s <- fx_svi()
  fit <- svi_run(s, fx_y, num_steps = 40, progress = FALSE)
  set.seed(3)
  ref <- fx_svi()
  losses <- vapply(1:40, function(i) {
    l <- svi_step(ref, fx_y)
    optim_schedule_step(ref$optim, ref$optim_state)
    l
  }, 1)
  expect_s3_class(fit, "svi_fit")
  expect_identical(fit$loss, losses)
  expect_identical(params(s), params(ref))
  expect_identical(s$steps, 40L)
  expect_identical(fit$stop_reason, "num_steps")
  expect_identical(fit$run_steps, 40L)
  expect_true(fit$time >= 0)
  # debiased exponential moving average, smoothing 0.9
  m <- 0
  for (t in 1:40) {
    m <- 0.9 * m + 0.1 * losses[t]
    expect_equal(fit$smoothed_loss[t], m / (1 - 0.9^t))
  }
  expect_equal(fit$smoothed_loss[1], losses[1])
})

test_that("smoothing = 0 reports the raw loss; non-finite losses leave the average alone", {
  set.seed(1)
  fit <- svi_run(fx_svi(), fx_y, num_steps = 5, smoothing = 0, progress = FALSE)
  expect_identical(fit$smoothed_loss, fit$loss)
  run <- new_run_state(3, 0.5, NULL, has_validation = FALSE)
  run_record(run, 1, 10, NULL)
  run_record(run, 2, NaN, NULL)
  run_record(run, 3, 20, NULL)
  expect_identical(run$smoothed, c(10, 10, (0.25 * 10 + 0.5 * 20) / 0.75))
})

test_that("svi_run continues a fit: history appended, data reused, same as one long run", {
  set.seed(7)
  a <- fx_svi()
  fit1 <- svi_run(a, fx_y, num_steps = 15, progress = FALSE)
  fit2 <- svi_run(fit1, num_steps = 10, progress = FALSE)
  set.seed(7)
  b <- fx_svi()
  whole <- svi_run(b, fx_y, num_steps = 25, progress = FALSE)
  expect_identical(fit2$loss, whole$loss)
  expect_equal(fit2$smoothed_loss, whole$smoothed_loss)
  expect_identical(params(fit2), params(whole))
  expect_identical(fit2$run_steps, 10L)
  expect_length(fit1$loss, 15)   # the first fit is unchanged
})

test_that("patience stops a converged model early and lets an improving one run", {
  # guide started at the exact posterior: the ELBO estimate is constant, nothing improves
  post <- fx_posterior(fx_y)
  conv_guide <- function(y) {
    loc <- param("loc", post$mean)
    scale <- param("scale", post$sd, constraint = constraint_positive())
    sample_site("mu", dist_normal(loc, scale))
  }
  set.seed(1)
  s <- fx_svi(lr = 1e-4, guide = conv_guide)
  fit <- svi_run(s, fx_y, num_steps = 1000, patience = 20, min_delta = 1e-3, progress = FALSE)
  expect_identical(fit$stop_reason, "patience")
  expect_identical(fit$run_steps, 21L)
  expect_identical(s$steps, 21L)

  # far from the optimum with a nearly deterministic guide: the loss falls every step
  slow_guide <- function(y) sample_site("mu", dist_normal(param("loc", -20), 0.01))
  set.seed(1)
  s <- fx_svi(lr = 0.01, guide = slow_guide)
  fit <- svi_run(s, fx_y, num_steps = 200, patience = 5, progress = FALSE)
  expect_identical(fit$stop_reason, "num_steps")
  expect_identical(fit$run_steps, 200L)
  expect_true(all(diff(fit$smoothed_loss) < 0))
})

test_that("validation data are evaluated every step and drive early stopping", {
  post <- fx_posterior(fx_y)
  conv_guide <- function(y) {
    sample_site("mu", dist_normal(param("loc", post$mean), param("scale", post$sd, constraint = constraint_positive())))
  }
  y_valid <- c(3.1, 2.7)
  set.seed(2)
  s <- fx_svi(lr = 1e-4, guide = conv_guide)
  fit <- svi_run(s, fx_y, num_steps = 300, patience = 10, min_delta = 1e-2,
                 validation = list(y_valid), progress = FALSE)
  expect_identical(fit$stop_reason, "patience")
  expect_length(fit$validation_loss, fit$run_steps)
  expect_true(all(is.finite(fit$validation_loss)))
  # the validation loss is the loss on y_valid, not on the training data
  expect_true(abs(mean(fit$validation_loss) - mean(fit$loss)) > 1)
  d <- as.data.frame(fit)
  expect_named(d, c("step", "loss", "smoothed_loss", "validation_loss", "smoothed_validation_loss"))
})

test_that("a callback sees every step and stops the run by returning FALSE", {
  seen <- integer()
  cb <- function(info) {
    seen <<- c(seen, info$step)
    expect_true(inherits(info$svi, "svi"))
    expect_identical(names(info), c("step", "loss", "smoothed_loss", "validation_loss", "svi"))
    if (info$step == 7) FALSE else NULL
  }
  set.seed(1)
  fit <- svi_run(fx_svi(), fx_y, num_steps = 50, callback = cb, progress = FALSE)
  expect_identical(seen, 1:7)
  expect_identical(fit$stop_reason, "callback")
  expect_length(fit$loss, 7)
})

test_that("an interrupt from a callback returns the fit so far with the state after the last step", {
  set.seed(11)
  s <- fx_svi()
  cb <- function(info) if (info$step == 5) fx_interrupt()
  expect_snapshot(fit <- svi_run(s, fx_y, num_steps = 100, callback = cb, progress = FALSE))
  set.seed(11)
  ref <- fx_svi()
  for (i in 1:5) {
    svi_step(ref, fx_y)
    optim_schedule_step(ref$optim, ref$optim_state)
  }
  expect_identical(fit$stop_reason, "interrupt")
  expect_length(fit$loss, 5)
  expect_identical(fx_state(s), fx_state(ref))
  expect_identical(params(fit), params(ref))
})

test_that("an interrupt in the middle of a step undoes that step", {
  calls <- 0
  model <- function(y) {
    calls <<- calls + 1
    mu <- fx_model(y)
    if (calls == 6) fx_interrupt()   # guide and model of step 6 have run, no update yet
    mu
  }
  guide <- function(y) {
    fx_guide(y)
    if (calls == 5) param("late", 1)   # a parameter first created by the interrupted step
  }
  set.seed(5)
  s <- fx_svi(model = model, guide = guide)
  expect_message(fit <- svi_run(s, fx_y, num_steps = 100, progress = FALSE), "Interrupted after step 5")
  calls <- 1000
  set.seed(5)
  ref <- fx_svi(model = model, guide = guide)
  for (i in 1:5) svi_step(ref, fx_y)
  expect_identical(fit$run_steps, 5L)
  expect_identical(fx_state(s), fx_state(ref))
  expect_false("late" %in% names(params(s)))
  # training goes on from there
  fit2 <- svi_run(fit, num_steps = 3, progress = FALSE)
  expect_length(fit2$loss, 8)
  expect_identical(s$steps, 8L)
})

test_that("learning-rate schedules are stepped once per step", {
  set.seed(1)
  s <- svi(fx_model, fx_guide, adam(lr = 0.1, schedule = lr_exponential(0.5)), trace_elbo())
  svi_run(s, fx_y, num_steps = 4, progress = FALSE)
  expect_equal(optim_lr(s$optim_state, "loc"), 0.1 * 0.5^4)
})

test_that("knitr mode prints one line per run (and log lines only when asked for)", {
  withr::local_options(knitr.in.progress = TRUE)
  no_time <- function(x) gsub("in [0-9.]+ s", "in <time> s", x)
  set.seed(1)
  expect_snapshot(fit <- svi_run(fx_svi(), fx_y, num_steps = 30), transform = no_time)
  set.seed(1)
  expect_snapshot(fit <- svi_run(fx_svi(), fx_y, num_steps = 23, log_every = 10), transform = no_time)
  post <- fx_posterior(fx_y)
  conv_guide <- function(y) {
    sample_site("mu", dist_normal(param("loc", post$mean), param("scale", post$sd, constraint = constraint_positive())))
  }
  set.seed(1)
  expect_snapshot(fit <- svi_run(fx_svi(lr = 1e-4, guide = conv_guide), fx_y, num_steps = 100,
                                 patience = 12, min_delta = 1e-3), transform = no_time)
  # continuing a fit numbers the steps over the whole history
  expect_snapshot(fit <- svi_run(fit, num_steps = 4, log_every = 2), transform = no_time)
})

test_that("progress = FALSE is silent; interactive sessions get a progress bar, not log lines", {
  set.seed(1)
  expect_silent(svi_run(fx_svi(), fx_y, num_steps = 10, progress = FALSE))
  withr::local_options(rlang_interactive = TRUE, cli.progress_show_after = 0,
                       knitr.in.progress = FALSE)
  set.seed(1)
  msgs <- character()
  fit <- withCallingHandlers(
    svi_run(fx_svi(), fx_y, num_steps = 30),
    message = function(m) {
      msgs <<- c(msgs, conditionMessage(m))
      invokeRestart("muffleMessage")
    }
  )
  expect_length(fit$loss, 30)
  expect_false(any(grepl("^step ", msgs)))
  expect_true(any(grepl("loss", msgs)))   # the bar, showing the smoothed loss
})

test_that("svi_run checks its arguments", {
  s <- fx_svi()
  expect_snapshot(error = TRUE, {
    svi_run(s, fx_y)
    svi_run(s, fx_y, num_steps = 0)
    svi_run(s, fx_y, num_steps = 2.5)
    svi_run(s, fx_y, num_steps = 10, smoothing = 1)
    svi_run(s, fx_y, num_steps = 10, progress = NA)
    svi_run(s, fx_y, num_steps = 10, patience = -1)
    svi_run(s, fx_y, num_steps = 10, min_delta = -0.1)
    svi_run(s, fx_y, num_steps = 10, validation = c(1, 2))
    svi_run(s, fx_y, num_steps = 10, callback = "stop")
    svi_run(list(), fx_y, num_steps = 10)
  })
  expect_identical(s$steps, 0L)
})

test_that("an error in a step returns the fit so far with the state of the last completed step", {
  calls <- 0
  guide <- function(y) {
    calls <<- calls + 1
    if (calls == 4) stop("guide failed")
    fx_guide(y)
  }
  set.seed(1)
  s <- fx_svi(guide = guide)
  expect_snapshot(fit <- svi_run(s, fx_y, num_steps = 10, progress = FALSE))
  expect_identical(s$steps, 3L)
  expect_identical(fit$stop_reason, "error")
  expect_length(fit$loss, 3L)
  expect_identical(fit$error$step, 4L)
  expect_identical(params(fit), params(s))
})

test_that("compiled svi objects run, stop and continue like dynamic ones", {
  run <- function(compile) {
    set.seed(12)
    s <- svi(fx_model, fx_guide, adam(lr = 0.05), trace_elbo(), compile = compile)
    cb <- function(info) if (info$step == 8) fx_interrupt()
    fit <- suppressMessages(svi_run(s, fx_y, num_steps = 20, callback = cb, progress = FALSE))
    list(fit = fit, more = svi_run(fit, num_steps = 5, progress = FALSE), s = s)
  }
  d <- run(FALSE)
  k <- run(TRUE)
  expect_identical(k$fit$stop_reason, "interrupt")
  expect_identical(k$fit$loss, d$fit$loss)
  expect_identical(k$more$loss, d$more$loss)
  expect_identical(params(k$s), params(d$s))
})

test_that("an interrupted step that would have created state leaves none behind", {
  calls <- 0
  model <- function(y) {
    calls <<- calls + 1
    if (calls == 2) fx_interrupt()   # during the second (recording) step of a compiled object
    fx_model(y)
  }
  set.seed(2)
  s <- svi(model, fx_guide, adam(lr = 0.05), trace_elbo(), compile = TRUE)
  # a callback keeps svi_run() on its step-by-step loop (not the compiled stretches)
  fit <- suppressMessages(svi_run(s, fx_y, num_steps = 10, progress = FALSE,
                                  callback = function(info) NULL))
  calls <- 1000
  set.seed(2)
  ref <- svi(model, fx_guide, adam(lr = 0.05), trace_elbo(), compile = TRUE)
  svi_step(ref, fx_y)
  expect_identical(fit$run_steps, 1L)
  expect_setequal(names(s), names(ref))
  expect_identical(fx_state(s), fx_state(ref))
  expect_identical(setdiff(names(s$recording), "tape"), setdiff(names(ref$recording), "tape"))
  expect_null(s$program)
})
