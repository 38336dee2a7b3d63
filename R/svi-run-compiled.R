# svi_run() for compiled svi objects: stretches of steps replayed in C++ without returning to R
# (checking for interrupts inside), then recorded, logged and checked for patience stretch by
# stretch. Per-step hooks (a callback, validation losses, learning-rate schedules stepped after
# every step) need R between steps, so those runs take the step-by-step loop instead.

compiled_run_ok <- function(s, validation, callback) {
  isTRUE(s$compile) && is.null(validation) && is.null(callback) && !optim_has_schedule(s$optim)
}

optim_has_schedule <- function(opt) {
  !is.null(opt$args$schedule) || !is.null(opt$per_param) || !is.null(opt$schedule)
}

# Returns the stop reason. An interrupt stops the stretch after its last completed step, and
# the state is that of that step (the C++ loop writes it back before returning).
compiled_run_loop <- function(s, args, num_steps, run, bar, log_every, patience, min_delta,
                              stretch = 100L) {
  if (!is.null(log_every)) stretch <- min(stretch, log_every)
  stat <- run$stat
  if (!is.null(stat)) stretch <- 1L   # the stationarity test needs the iterates of every step
  i <- 0L
  single_until <- 0L   # after a failed stretch, its steps again one at a time
  # An interrupt can land anywhere in R's part of an iteration too. The C++ replay returns the
  # losses of the steps it completed, recording them runs with interrupts held (so the record
  # always matches the object), and an interrupt landing outside those is caught here.
  while (i < num_steps) {
    last <- NULL   # set inside the held block, so it survives an interrupt taken at its end
    caught <- tryCatch({
      # the recording steps one at a time, so an interrupt in one keeps the steps before it
      n <- if (is.null(s$program) || i < single_until) 1L else min(stretch, num_steps - i)
      # an error part-way through a stretch goes back to its start (single steps write their
      # state back only when they complete)
      snap <- if (n > 1L) svi_snapshot(s) else NULL
      seed <- get0(".Random.seed", envir = globalenv(), inherits = FALSE)
      suspendInterrupts({
        losses <- allowInterrupts(tryCatch(step_context(run, compiled_steps(s, args, n)),
          interrupt = function(e) structure(numeric(0), interrupted = TRUE, in_r = TRUE),
          error = function(e) structure(numeric(0), failed = TRUE)))
        last <- compiled_record_stretch(s, run, losses, snap, i, num_steps, bar, log_every,
                                        patience, min_delta, stat)
      })
      FALSE
    }, interrupt = function(e) TRUE)
    if (!is.null(last)) i <- last$i
    if (caught) return("interrupt")
    if (identical(last$reason, "error")) {
      if (n > 1L && !is.null(seed)) {
        # the stretch is undone: run its steps again one at a time from the same random
        # numbers, so the run keeps the steps before the failing one and names that step
        assign(".Random.seed", seed, envir = globalenv())
        run$error <- NULL
        single_until <- i + n
        next
      }
      if (is.null(run$error$site) && !is.null(s$program)) run$error$site <- replayed_error_site(s, args, seed)
    }
    if (!is.null(last$reason)) return(last$reason)
  }
  "num_steps"
}

# The site at which a replayed step failed (the C++ replay does not know site names): the
# step's loss evaluated again in R from the random numbers the step started with. NULL when
# that evaluation does not fail. The random number stream is left as the failed step left it.
replayed_error_site <- function(s, args, seed) {
  if (is.null(seed)) return(NULL)
  after <- get0(".Random.seed", envir = globalenv(), inherits = FALSE)
  on.exit(if (is.null(after)) rm(".Random.seed", envir = globalenv()) else
    assign(".Random.seed", after, envir = globalenv()), add = TRUE)
  assign(".Random.seed", seed, envir = globalenv())
  site <- NULL
  tryCatch(withCallingHandlers(do.call(evaluate_loss, c(list(s), args)),
                               error = function(e) if (is.null(site)) site <<- error_site()),
           error = function(e) NULL)
  site
}

# Records one stretch's losses (run with interrupts held, so the record matches the object).
# Returns list(reason = NULL or why the run stops, i = steps recorded so far).
compiled_record_stretch <- function(s, run, losses, snap, i, num_steps, bar, log_every, patience,
                                    min_delta, stat) {
  # (an interrupt inside the C++ replay returns the losses of the steps it completed)
  if (isTRUE(attr(losses, "failed")) || isTRUE(attr(losses, "in_r"))) {
    if (!is.null(snap)) svi_restore(s, snap)
    if (isTRUE(attr(losses, "failed"))) return(list(reason = "error", i = i))
  }
  stop <- FALSE
  for (l in losses) {   # every step of the stretch ran, so every one is recorded
    i <- i + 1L
    run_record(run, i, l, NULL)
    if (!is.null(log_every) && ((run$offset + i) %% log_every == 0L)) run_log_line(run, i, num_steps)
    if (!stop && !is.null(patience)) stop <- run_patience_exhausted(run, i, patience, min_delta)
  }
  if (!is.null(bar) && i > 0L) progress_bar_update(bar, run, i)
  if (isTRUE(attr(losses, "interrupted"))) return(list(reason = "interrupt", i = i))
  if (stop) return(list(reason = "patience", i = i))
  if (!is.null(stat) && length(losses)) {
    stationary_record(run, s)
    if (stationary_check(run, i)) return(list(reason = "num_steps", i = i))
  }
  list(reason = NULL, i = i)
}
