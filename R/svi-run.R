#' Run stochastic variational inference for a number of steps
#'
#' `svi_run()` calls [svi_step()] `num_steps` times and returns an `svi_fit`: the losses,
#' their smoothed values, the time taken and why the run stopped. The svi object is updated
#' in place, so a later `svi_run()` continues where this one stopped.
#'
#' **Smoothed loss.** Single-step losses are noisy Monte Carlo estimates, so progress is
#' judged on an exponential moving average, `m[t] = smoothing * m[t-1] + (1 - smoothing) *
#' loss[t]`, debiased as `m[t] / (1 - smoothing^t)` so that early values are not pulled
#' towards zero. Non-finite losses (skipped steps) leave it unchanged.
#'
#' **Progress.** One display per run. In an interactive console a progress bar, updated in
#' place, shows the smoothed loss, the step rate and the estimated time left, and is
#' replaced by a one-line result at the end. Elsewhere (knitr documents, `Rscript`) the run
#' prints that one line (a message) when it ends. `progress = FALSE` silences both. With
#' `log_every`, a line is also printed every `log_every` steps.
#'
#' **Stationarity stop.** With `stop = "stationary"`, the run watches the iterates of the
#' (unconstrained) parameters: every `check_every` steps, once `min_window` steps have run,
#' it computes the split-R-hat of each parameter over five trailing windows (from
#' `min_window` steps to 95 % of the run) and calls the iterates stationary when some
#' window's largest R-hat is at most `rhat` (the longest such window is taken). From then on it averages the iterates of that
#' window, which grows with the run (Polyak-Ruppert averaging), and stops when the Monte
#' Carlo standard error of every average (from the effective sample size of its iterates) is
#' at most `mcse`, on the unconstrained scale: the log scale for positive parameters, where
#' the default 0.02 means 2 %, and the parameter's own units for real ones, and every
#' average rests on an effective sample size of at least `min_ess` (by default 0: no
#' floor). An MCSE estimated from a handful of effective draws is itself rough: a floor
#' such as `min_ess = 25` (FASO's `W_min / 8`) gives more precise averages for more steps
#' (on a conjugate normal model with `adam(0.05)`, over 20 seeds: `min_ess = 0` stops after
#' a median 315 steps with an error of 0.048 on the unconstrained scale, `min_ess = 10` after
#' 820 steps with 0.032, `min_ess = 20` after 1280 steps with 0.023). Against the
#' fixed number of steps after which the last iterate's error has settled (on average over
#' 20 seeds, `adam(0.05)`), the default stop takes a median 1.9 times as many on that normal
#' model, 2.5 times on a Poisson-Gamma model, 3.8 times on a two-coefficient regression, and
#' on a Beta-Bernoulli model mostly does not converge within 3000 steps (16 times): the rule
#' needs every split-R-hat at most 1.1, which iterates with an autocorrelation time of 40-80
#' steps reach only over windows of several hundred steps, and an MCSE of 0.02 on a
#' log-parameter whose iterates have an sd of 0.14 needs some 50 effective draws. The
#' averages are closer to the optimum than the last iterate in 14-19 of the 20 seeds on
#' each of them. The fit's
#' parameters (and the svi object's) are then the averages; `fit$convergence` records the
#' status (`"converged"`, `"stationary"` (but not yet precise), `"not_stationary"` or
#' `"diverging"`), the step from which the iterates were stationary, the window, the
#' R-hat and the MCSE, and `print(fit)` shows it. Not converging within `num_steps` is a
#' warning, not an error. The settings (after Dhaka et al. 2020) are a list, by default
#' `stationary = list(min_window = 100, check_every = 10, rhat = 1.1, mcse = 0.02, min_ess = 0)`;
#' `patience` still applies. A compiled svi object then runs its steps one at a time (the
#' test needs every iterate).
#'
#' **A failing step.** When a step fails with an error (e.g. a distribution's parameter out
#' of range), the run stops, warns with the step number, the site and the error, and
#' returns the fit up to the last step that succeeded (`stop_reason = "error"`; `fit$error`
#' holds the condition, the step and the site).
#'
#' **Early stopping.** With `patience`, the run stops once the monitored loss has not
#' improved on its best value by more than `min_delta` for `patience` consecutive steps.
#' The monitored loss is the smoothed training loss or, with `validation`, the smoothed
#' [evaluate_loss()] on the validation arguments (evaluated after every step, which costs
#' one loss evaluation per step).
#'
#' **Schedules.** Learning-rate schedules of the optimizer (see [lr_step()]) are stepped
#' once after every step.
#'
#' **Callback.** `callback(info)` is called after every step with a list holding `step`
#' (counted over the fit's whole history when continuing a fit), `loss`, `smoothed_loss`, `validation_loss` (or `NULL`) and `svi`
#' (the svi object). Returning `FALSE` stops the run.
#'
#' **Interrupts.** Pressing Ctrl-C (or Esc) stops the run between steps: a step that was
#' under way is undone, and the fit so far is returned with the parameters and optimizer
#' state as they were after the last completed step.
#'
#' @param s An `svi` object from [svi()], or an `svi_fit` to continue (its history is
#'   extended; its data are reused when `...` is empty).
#' @param ... Arguments passed to the model and the guide at every step.
#' @param num_steps Number of steps, a whole number `>= 1`.
#' @param smoothing Weight of the past in the smoothed loss, a number in `[0, 1)`; `0`
#'   reports the raw loss.
#' @param progress Show progress? See Details.
#' @param log_every `NULL` or print a line every `log_every` steps.
#' @param patience `NULL` (no early stopping) or the number of steps without improvement
#'   after which to stop.
#' @param min_delta The smallest decrease of the monitored loss that counts as an
#'   improvement, a number `>= 0`.
#' @param validation `NULL` or a list of arguments for the model and guide on which to
#'   monitor [evaluate_loss()] for early stopping.
#' @param callback `NULL` or a function of one argument called after every step; it stops
#'   the run by returning `FALSE`.
#' @param stop `"num_steps"` (run `num_steps` steps, or until `patience` stops it) or
#'   `"stationary"` (also stop once the iterates have converged; see Details).
#' @param stationary A list of settings for `stop = "stationary"`: `min_window`,
#'   `check_every`, `rhat`, `mcse`, `min_ess` (see Details).
#' @return An object of class `svi_fit`; see [print.svi_fit()].
#' @seealso [svi()], [summary.svi_fit()], [posterior_draws()], [predictive()].
#' @examples
#' model <- function(y) {
#'   mu <- sample_site("mu", dist_normal(0, 10))
#'   plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, 1), obs = y))
#' }
#' guide <- function(y) {
#'   loc <- param("loc", 0)
#'   scale <- param("scale", 1, constraint = constraint_positive())
#'   sample_site("mu", dist_normal(loc, scale))
#' }
#' set.seed(1)
#' y <- rnorm(50, 3)
#' s <- svi(model, guide, optim = adam(lr = 0.05), loss = trace_elbo())
#' fit <- svi_run(s, y, num_steps = 500)
#' fit
#' # stop once the smoothed loss has not improved for 50 steps
#' fit <- svi_run(s, y, num_steps = 5000, patience = 50, min_delta = 0.01)
#' fit$stop_reason
#' # stop once the iterates are stationary and their average is precise
#' fit <- svi_run(svi(model, guide, adam(lr = 0.05)), y, num_steps = 5000, stop = "stationary")
#' fit$convergence$status
#' @export
svi_run <- function(s, ..., num_steps, smoothing = 0.9, progress = TRUE, log_every = NULL,
                    patience = NULL, min_delta = 0, validation = NULL, callback = NULL,
                    stop = c("num_steps", "stationary"), stationary = list()) {
  prev <- NULL
  if (inherits(s, "svi_fit")) {
    prev <- s
    s <- prev$svi
  }
  check_svi(s)
  args <- list(...)
  if (!is.null(prev) && !length(args)) args <- prev$args
  if (missing(num_steps)) cli::cli_abort("{.arg num_steps} is missing, with no default.")
  num_steps <- check_count(num_steps, "num_steps")
  check_number(smoothing, "smoothing", min = 0, max = 1, max_open = TRUE)
  check_flag(progress, "progress")
  if (!is.null(log_every)) log_every <- check_count(log_every, "log_every")
  if (!is.null(patience)) patience <- check_count(patience, "patience")
  check_number(min_delta, "min_delta", min = 0)
  if (!is.null(validation) && !is.list(validation)) {
    cli::cli_abort(c(
      "{.arg validation} must be a list of arguments for the model and guide, or {.code NULL}.",
      x = "It is {.obj_type_friendly {validation}}.",
      i = "For example {.code validation = list(y_test)}."
    ))
  }
  if (!is.null(callback) && !is.function(callback)) {
    cli::cli_abort("{.arg callback} must be a function or {.code NULL}, not {.obj_type_friendly {callback}}.")
  }

  if (identical(stop, c("num_steps", "stationary"))) stop <- "num_steps"
  if (!is.character(stop) || length(stop) != 1L || !stop %in% c("num_steps", "stationary")) {
    cli::cli_abort('{.arg stop} must be {.val num_steps} or {.val stationary}, not {.obj_type_friendly {stop}}{if (is.character(stop) && length(stop) == 1L) paste0(" (", stop, ")")}.')
  }
  stat <- if (stop == "stationary") stationary_settings(stationary) else NULL

  # one display per run: a bar updated in place in a console; elsewhere (knitr, Rscript) one
  # line at the end, and log lines only when asked for with log_every
  show_bar <- progress && svi_is_interactive() && !svi_in_knitr()
  new_run <- function() {
    r <- new_run_state(num_steps, smoothing, prev, has_validation = !is.null(validation))
    r$stat <- stat
    r
  }
  run <- NULL
  bar <- NULL
  start <- proc.time()[["elapsed"]]
  # (an interrupt before a loop has set up its own guard has changed nothing yet)
  stop_reason <- tryCatch({
    run <- new_run()
    bar <- if (show_bar) new_progress_bar(num_steps) else NULL
    if (compiled_run_ok(s, validation, callback)) {
    # compiled: whole stretches of replayed steps in C++, recorded afterwards
    compiled_run_loop(s, args, num_steps, run, bar, log_every, patience, min_delta)
  } else {
    dynamic_run_loop(s, args, num_steps, run, bar, log_every, patience, min_delta,
                     validation, callback)
    }
  }, interrupt = function(e) "interrupt")
  if (is.null(run)) run <- new_run()   # interrupted before the first step
  elapsed <- proc.time()[["elapsed"]] - start

  n <- run$n
  if (!is.null(log_every) && n > 0L && (run$offset + n) %% log_every != 0L) {
    run_log_line(run, n, num_steps)   # the last step, when it was not logged
  }
  convergence <- if (is.null(stat)) NULL else stationary_finish(s, run, stop_reason)
  if (identical(convergence$status, "converged") && identical(stop_reason, "num_steps")) {
    stop_reason <- "stationary"
  }
  fit <- new_svi_fit(s, args, run, elapsed, stop_reason, num_steps, patience, min_delta, prev)
  fit$convergence <- convergence
  fit$error <- run$error
  if (!is.null(bar)) progress_bar_done(bar, fit)
  announce_stop(fit, line = progress && !show_bar)
  fit
}

# Step by step, with R between steps; returns the stop reason. `snap` is the state after the
# last recorded step: an interrupt anywhere in an iteration restores it, so the fit and the
# svi object always agree.
dynamic_run_loop <- function(s, args, num_steps, run, bar, log_every, patience, min_delta,
                             validation, callback) {
  schedules <- has_schedules(s)
  snap <- svi_snapshot(s)
  stat <- run$stat
  reason <- tryCatch(step_context(run, {
    for (i in seq_len(num_steps)) {
      loss <- do.call(svi_step, c(list(s), args))
      val <- if (is.null(validation)) NULL else do.call(evaluate_loss, c(list(s), validation))
      suspendInterrupts({
        if (schedules) optim_schedule_step(s$optim, s$optim_state)
        run_record(run, i, loss, val)
        if (!is.null(stat)) stationary_record(run, s)
        snap <- svi_snapshot(s)
      })
      if (!is.null(bar)) progress_bar_update(bar, run, i)
      if (!is.null(log_every) && ((run$offset + i) %% log_every == 0L)) run_log_line(run, i, num_steps)
      if (!is.null(patience) && run_patience_exhausted(run, i, patience, min_delta)) {
        return("patience")
      }
      if (!is.null(stat) && stationary_check(run, i)) return("num_steps")
      if (!is.null(callback) && isFALSE(callback(callback_info(run, i, s)))) return("callback")
    }
    "num_steps"
  }), interrupt = function(e) "interrupt", error = function(e) "error")
  if (reason %in% c("interrupt", "error")) suspendInterrupts(svi_restore(s, snap))
  reason
}

# Evaluates the loop `expr`; an error in a step is recorded in `run$error` (with the site it
# happened at and the step number, found on the call stack before it unwinds) and re-raised
# for the loop's handler.
step_context <- function(run, expr) {
  withCallingHandlers(expr, error = function(e) {
    if (is.null(run$error)) {
      run$error <- list(condition = e, step = run$offset + run$n + 1L, site = error_site())
    }
  })
}

# The innermost sample_site() or param() on the call stack, and its site name.
error_site <- function() {
  fns <- list(sample = sample_site, param = param)
  for (i in rev(seq_len(sys.nframe()))) {
    f <- sys.function(i)
    for (kind in names(fns)) {
      if (identical(f, fns[[kind]])) {
        nm <- tryCatch(get("name", envir = sys.frame(i)), error = function(e) NULL)
        if (is.character(nm) && length(nm) == 1L) return(list(kind = kind, name = nm))
      }
    }
  }
  NULL
}

# --- bookkeeping ------------------------------------------------------------------------

# Whether any parameter can have a learning-rate schedule to step: through the optimizer
# (for parameters seen later too) or through a restored optimizer state.
has_schedules <- function(s) {
  if (!is.null(s$optim$args$schedule) || !is.null(s$optim$per_param)) return(TRUE)
  states <- optim_state_get(s$optim_state)
  any(vapply(states, function(st) !is.null(st$settings$schedule), TRUE))
}

# The state of a run: the history (vectors filled in place), moving averages and the
# early-stopping record.
new_run_state <- function(num_steps, smoothing, prev, has_validation) {
  run <- new.env(parent = emptyenv())
  run$n <- 0L
  run$offset <- if (is.null(prev)) 0L else length(prev$loss)   # steps before this run
  run$smoothing <- smoothing
  run$loss <- rep(NA_real_, num_steps)
  run$smoothed <- rep(NA_real_, num_steps)
  run$validation <- if (has_validation) rep(NA_real_, num_steps) else NULL
  run$smoothed_validation <- if (has_validation) rep(NA_real_, num_steps) else NULL
  # a continued fit carries its moving averages on, so the smoothed curve has no jump
  run$ema <- if (is.null(prev$ema$loss)) ema_new() else prev$ema$loss
  run$ema_val <- if (is.null(prev$ema$validation)) ema_new() else prev$ema$validation
  run$best <- Inf
  run$since_best <- 0L
  run
}

ema_new <- function() c(mean = 0, weight = 0)

# One step of the debiased moving average: `weight` is 1 - smoothing^t.
ema_update <- function(ema, x, smoothing) {
  if (!is.finite(x)) return(ema)
  c(mean = smoothing * ema[["mean"]] + (1 - smoothing) * x,
    weight = smoothing * ema[["weight"]] + (1 - smoothing))
}

ema_value <- function(ema) if (ema[["weight"]] > 0) ema[["mean"]] / ema[["weight"]] else NA_real_

run_record <- function(run, i, loss, val) {
  run$n <- i
  set_elt(run, "loss", i, loss)
  run$ema <- ema_update(run$ema, loss, run$smoothing)
  set_elt(run, "smoothed", i, ema_value(run$ema))
  if (!is.null(run$validation)) {
    set_elt(run, "validation", i, val)
    run$ema_val <- ema_update(run$ema_val, val, run$smoothing)
    set_elt(run, "smoothed_validation", i, ema_value(run$ema_val))
  }
  invisible()
}

# `e$x[i] <- value` would duplicate the whole vector (O(num_steps) per step); with the
# binding removed first, the vector has one reference and is modified in place.
set_elt <- function(e, name, i, value) {
  v <- e[[name]]
  rm(list = name, envir = e)
  v[i] <- value
  assign(name, v, envir = e)
}

run_monitored <- function(run, i) {
  if (is.null(run$validation)) run$smoothed[i] else run$smoothed_validation[i]
}

run_patience_exhausted <- function(run, i, patience, min_delta) {
  m <- run_monitored(run, i)
  if (is.finite(m) && m < run$best - min_delta) {
    run$best <- m
    run$since_best <- 0L
  } else {
    run$since_best <- run$since_best + 1L
  }
  run$since_best >= patience
}

callback_info <- function(run, i, s) {
  list(step = run$offset + i, loss = run$loss[i], smoothed_loss = run$smoothed[i],
       validation_loss = if (is.null(run$validation)) NULL else run$validation[i], svi = s)
}

# --- progress -----------------------------------------------------------------------------

svi_is_interactive <- function() {
  opt <- getOption("rlang_interactive")
  if (!is.null(opt)) return(isTRUE(opt))
  interactive()
}

svi_in_knitr <- function() isTRUE(getOption("knitr.in.progress"))

run_fmt_loss <- function(x) {
  if (is.null(x)) return("")
  out <- formatC(x, digits = 6, format = "g", flag = "")
  out[!is.finite(x)] <- format(x[!is.finite(x)])
  out
}

run_log_line <- function(run, i, num_steps) {
  w <- nchar(format(run$offset + num_steps))
  txt <- sprintf("step %*d | loss %10s | smoothed %10s", w, run$offset + i,
                 run_fmt_loss(run$loss[i]), run_fmt_loss(run$smoothed[i]))
  if (!is.null(run$validation)) {
    txt <- sprintf("%s | validation %10s", txt, run_fmt_loss(run$smoothed_validation[i]))
  }
  message(txt)
}

# The bar's format is evaluated in `bar` (an environment holding the loss text); it is
# closed by svi_run() with a one-line result, or by cli when the run fails.
new_progress_bar <- function(num_steps) {
  bar <- new.env(parent = baseenv())
  bar$loss <- "..."
  bar$last <- -Inf
  bar$done <- ""
  bar$id <- cli::cli_progress_bar(
    total = num_steps,
    format = paste0("{cli::pb_bar} {cli::pb_current}/{cli::pb_total} | loss {loss} | ",
                    "{cli::pb_rate} | {cli::pb_eta_str}"),
    format_done = "{done}",
    clear = FALSE,
    .envir = bar
  )
  bar
}

# Redrawing costs far more than a fast step, so the bar is updated at most ten times a second.
progress_bar_update <- function(bar, run, i) {
  now <- proc.time()[["elapsed"]]
  if (now - bar$last < 0.1) return(invisible())
  bar$last <- now
  bar$loss <- run_fmt_loss(run_monitored(run, i))
  cli::cli_progress_update(id = bar$id, set = i, .envir = bar)
}

progress_bar_done <- function(bar, fit) {
  bar$done <- run_summary_line(fit)
  cli::cli_progress_done(id = bar$id, .envir = bar)
}

# The one line a run prints when it is not shown as a bar.
run_summary_line <- function(fit) {
  n <- fit$run_steps
  txt <- paste0("svi_run: ", n, " step", if (n != 1L) "s", " in ",
                format(round(fit$time_run, 2), nsmall = 2), " s, smoothed loss ",
                run_fmt_loss(fit_last_finite(fit$smoothed_loss)))
  if (!is.null(fit$validation_loss)) {
    txt <- paste0(txt, ", validation ", run_fmt_loss(fit_last_finite(fit$smoothed_validation_loss)))
  }
  extra <- c(if (!identical(fit$stop_reason, "num_steps")) stop_reason_text(fit),
             if (!is.null(fit$convergence)) convergence_text(fit$convergence))
  paste0(txt, if (length(extra)) paste0(". ", paste(unique(extra), collapse = " ")))
}

announce_stop <- function(fit, line) {
  reason <- fit$stop_reason
  if (line) message(run_summary_line(fit))
  if (identical(reason, "interrupt")) {
    cli::cli_inform(c(
      "!" = "Interrupted after step {fit$stopped_at}.",
      i = "Returning the fit so far; parameters and optimizer state are those after step {fit$stopped_at}."
    ))
  } else if (identical(reason, "error")) {
    cli::cli_warn(c(step_error_text(fit$error),
      i = "Returning the fit up to step {fit$stopped_at}, the last step that succeeded."
    ))
  }
  conv <- fit$convergence
  if (!is.null(conv) && !identical(conv$status, "converged") && reason %in% c("num_steps", "patience")) {
    cli::cli_warn(c("{.fn svi_run} did not converge in {fit$run_steps} steps: {convergence_text(conv)}",
                    i = "Run more steps (continue with {.code svi_run(fit, num_steps = ...)}) or lower the learning rate."))
  }
}

# "Step 6 failed at sample site "r": `rate` of dist_gamma() must be positive ..."
step_error_text <- function(err) {
  where <- if (is.null(err$site)) "" else
    paste0(" at ", if (err$site$kind == "sample") "sample site" else "param", " {.val ", err$site$name, "}")
  msg <- gsub("}", "}}", gsub("{", "{{", conditionMessage(err$condition), fixed = TRUE), fixed = TRUE)
  c(paste0("Step ", err$step, " failed", where, ":"), x = msg)
}

stop_reason_text <- function(fit) {
  what <- if (is.null(fit$validation_loss)) "smoothed loss" else "smoothed validation loss"
  switch(fit$stop_reason,
    num_steps = paste0("Ran all ", fit$num_steps, " steps."),
    patience = paste0("Stopped early at step ", fit$stopped_at, ": the ", what,
                      " did not improve by more than ", format(fit$min_delta), " for ",
                      fit$patience, " steps."),
    stationary = paste0("Stopped at step ", fit$stopped_at, ": converged."),
    callback = paste0("Stopped by the callback at step ", fit$stopped_at, "."),
    interrupt = paste0("Interrupted after step ", fit$stopped_at, "."),
    error = paste0("Stopped by an error in step ", fit$stopped_at + 1L, ".")
  )
}
