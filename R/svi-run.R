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
#' **Progress.** In an interactive session a progress bar shows the smoothed loss, the
#' step rate and the estimated time left. When the session is not interactive, or inside
#' knitr, the bar is replaced by a line every `log_every` steps (by default about ten lines
#' per run). `progress = FALSE` silences both unless `log_every` is given.
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
#' @export
svi_run <- function(s, ..., num_steps, smoothing = 0.9, progress = TRUE, log_every = NULL,
                    patience = NULL, min_delta = 0, validation = NULL, callback = NULL) {
  # counts: finite whole numbers in range, checked first (R/check-args.R)
  if (!missing(num_steps)) check_count(num_steps, "num_steps")
  if (!is.null(log_every)) check_count(log_every, "log_every")
  if (!is.null(patience)) check_count(patience, "patience")
  prev <- NULL
  if (inherits(s, "svi_fit")) {
    prev <- s
    s <- prev$svi
  }
  check_svi(s)
  args <- list(...)
  if (!is.null(prev) && !length(args)) args <- prev$args
  if (missing(num_steps)) cli::cli_abort("{.arg num_steps} is missing, with no default.")
  num_steps <- check_run_count(num_steps, "num_steps")
  check_run_smoothing(smoothing)
  check_run_flag(progress, "progress")
  if (!is.null(log_every)) log_every <- check_run_count(log_every, "log_every")
  if (!is.null(patience)) patience <- check_run_count(patience, "patience")
  check_run_number(min_delta, "min_delta", min = 0)
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

  show_bar <- progress && svi_is_interactive() && !svi_in_knitr()
  if (is.null(log_every) && progress && !show_bar) log_every <- auto_log_every(num_steps)
  run <- new_run_state(num_steps, smoothing, prev, has_validation = !is.null(validation))
  bar <- if (show_bar) new_progress_bar(num_steps) else NULL
  if (!is.null(bar)) on.exit(cli::cli_progress_done(id = bar$id, .envir = bar), add = TRUE)

  start <- proc.time()[["elapsed"]]
  stop_reason <- if (compiled_run_ok(s, validation, callback)) {
    # compiled: whole stretches of replayed steps in C++, recorded afterwards
    compiled_run_loop(s, args, num_steps, run, bar, log_every, patience, min_delta)
  } else {
    dynamic_run_loop(s, args, num_steps, run, bar, log_every, patience, min_delta,
                     validation, callback)
  }
  elapsed <- proc.time()[["elapsed"]] - start

  n <- run$n
  if (!is.null(log_every) && n > 0L && (run$offset + n) %% log_every != 0L) {
    run_log_line(run, n, num_steps)   # the last step, when it was not logged
  }
  fit <- new_svi_fit(s, args, run, elapsed, stop_reason, num_steps, patience, min_delta, prev)
  announce_stop(fit, verbose = show_bar || !is.null(log_every))
  fit
}

# Step by step, with R between steps; returns the stop reason. `snap` is the state after the
# last recorded step: an interrupt anywhere in an iteration restores it, so the fit and the
# svi object always agree.
dynamic_run_loop <- function(s, args, num_steps, run, bar, log_every, patience, min_delta,
                             validation, callback) {
  schedules <- has_schedules(s)
  snap <- svi_snapshot(s)
  reason <- tryCatch({
    for (i in seq_len(num_steps)) {
      loss <- do.call(svi_step, c(list(s), args))
      val <- if (is.null(validation)) NULL else do.call(evaluate_loss, c(list(s), validation))
      suspendInterrupts({
        if (schedules) optim_schedule_step(s$optim, s$optim_state)
        run_record(run, i, loss, val)
        snap <- svi_snapshot(s)
      })
      if (!is.null(bar)) progress_bar_update(bar, run, i)
      if (!is.null(log_every) && ((run$offset + i) %% log_every == 0L)) run_log_line(run, i, num_steps)
      if (!is.null(patience) && run_patience_exhausted(run, i, patience, min_delta)) {
        return("patience")
      }
      if (!is.null(callback) && isFALSE(callback(callback_info(run, i, s)))) return("callback")
    }
    "num_steps"
  }, interrupt = function(e) "interrupt")
  if (identical(reason, "interrupt")) suspendInterrupts(svi_restore(s, snap))
  reason
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

# About ten lines per run, at round step counts (1, 2 or 5 times a power of ten).
auto_log_every <- function(num_steps) {
  raw <- max(1, num_steps / 10)
  p <- 10^floor(log10(raw))
  nice <- c(1, 2, 5, 10) * p
  as.integer(nice[nice >= raw][1])
}

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
# closed explicitly by svi_run(), also on error.
new_progress_bar <- function(num_steps) {
  bar <- new.env(parent = baseenv())
  bar$loss <- "..."
  bar$last <- -Inf
  bar$id <- cli::cli_progress_bar(
    total = num_steps,
    format = paste0("{cli::pb_bar} {cli::pb_current}/{cli::pb_total} | loss {loss} | ",
                    "{cli::pb_rate} | {cli::pb_eta_str}"),
    format_done = "{cli::pb_total} steps | loss {loss} | {cli::pb_elapsed}",
    clear = FALSE,
    .auto_close = FALSE,
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

announce_stop <- function(fit, verbose) {
  reason <- fit$stop_reason
  if (identical(reason, "interrupt")) {
    cli::cli_inform(c(
      "!" = "Interrupted after step {fit$stopped_at}.",
      i = "Returning the fit so far; parameters and optimizer state are those after step {fit$stopped_at}."
    ))
  } else if (verbose && !identical(reason, "num_steps")) {
    cli::cli_inform(stop_reason_text(fit))
  }
}

stop_reason_text <- function(fit) {
  what <- if (is.null(fit$validation_loss)) "smoothed loss" else "smoothed validation loss"
  switch(fit$stop_reason,
    num_steps = paste0("Ran all ", fit$num_steps, " steps."),
    patience = paste0("Stopped early at step ", fit$stopped_at, ": the ", what,
                      " did not improve by more than ", format(fit$min_delta), " for ",
                      fit$patience, " steps."),
    callback = paste0("Stopped by the callback at step ", fit$stopped_at, "."),
    interrupt = paste0("Interrupted after step ", fit$stopped_at, ".")
  )
}

# --- argument checks ------------------------------------------------------------------------

check_run_count <- function(x, arg, call = parent.frame()) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || !is.finite(x) || x < 1 || x != round(x)) {
    cli::cli_abort(c("{.arg {arg}} must be a whole number {.code >= 1}.",
                     x = "It is {.obj_type_friendly {x}}{if (is.numeric(x) && length(x) == 1L) paste0(' (', x, ')')}."),
                   call = call)
  }
  as.integer(x)
}

check_run_flag <- function(x, arg, call = parent.frame()) {
  if (!is.logical(x) || length(x) != 1L || is.na(x)) {
    cli::cli_abort("{.arg {arg}} must be {.code TRUE} or {.code FALSE}.", call = call)
  }
}

check_run_number <- function(x, arg, min = -Inf, call = parent.frame()) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || !is.finite(x) || x < min) {
    cli::cli_abort("{.arg {arg}} must be a single finite number {.code >= {min}}.", call = call)
  }
}

check_run_smoothing <- function(x, call = parent.frame()) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || x < 0 || x >= 1) {
    cli::cli_abort("{.arg smoothing} must be a number in [0, 1).", call = call)
  }
}
