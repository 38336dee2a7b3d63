# Optimizer state: an environment of per-parameter states, each a plain list, so saveRDS() of
# anything holding it loses nothing. Internal API used by the SVI loop:
#   optim_state_new(), optim_update(), optim_schedule_step(), optim_lr(),
#   optim_state_get(), optim_state_set().
#
# One parameter's state:
#   optimizer  "adam", "clipped_adam" or "sgd"
#   settings   its resolved settings (constructor arguments after per_param; betas split into
#              beta1/beta2 for the core); they win over the optimizer passed later, as a
#              restored torch state dict's param_groups do in Pyro
#   step       number of updates taken
#   lr         current learning rate; initial_lr the one it started from
#   epoch      number of schedule steps taken
#   buffers    moment vectors (exp_avg, exp_avg_sq[, max_exp_avg_sq]) or momentum_buffer

#' A new, empty optimizer state
#' @return An environment; its `params` environment maps parameter names to their states.
#' @noRd
optim_state_new <- function() {
  state <- new.env(parent = emptyenv())
  state$params <- new.env(parent = emptyenv())
  state
}

#' One optimizer update of one parameter
#'
#' Creates the parameter's state on first sight (one state per parameter, settings from
#' `per_param`), clips the gradient, and runs one step in C++.
#' @param opt An `svi_optim` configuration.
#' @param state An optimizer state from `optim_state_new()`; updated in place.
#' @param name The parameter's name.
#' @param theta Its unconstrained value (a double vector or array).
#' @param grad The gradient of the loss with respect to `theta`, or `NULL` for "no gradient
#'   this step": no update while the parameter has never been stepped, a zero gradient after.
#' @return The new value, with `theta`'s attributes.
#' @noRd
optim_update <- function(opt, state, name, theta, grad) {
  st <- state$params[[name]]
  if (is.null(st)) {
    st <- optim_param_state(opt, name, theta)
  } else if (!identical(st$optimizer, opt$name)) {
    cli::cli_abort(c(
      "The optimizer state of parameter {.val {name}} belongs to {.fn {st$optimizer}}, not {.fn {opt$name}}.",
      i = "Start from a fresh optimizer state to change optimizer."
    ), call = NULL)
  }
  res <- .Call(`_svi_cpp_optim_step`, st$optimizer, name, theta, grad, st$step, st$lr,
               st$buffers, st$settings)
  st$step <- res$step
  st$lr <- res$lr
  st$buffers <- res$buffers
  assign(name, st, envir = state$params)
  res$value
}

optim_param_state <- function(opt, name, theta) {
  if (!inherits(opt, "svi_optim")) {
    cli::cli_abort("{.arg opt} must be an optimizer such as {.fn adam}, not {bad_value(opt)}.",
                   call = NULL)
  }
  if (!is.double(theta)) {
    cli::cli_abort("The value of parameter {.val {name}} must be a double vector, not {.obj_type_friendly {theta}}.",
                   call = NULL)
  }
  s <- optim_param_settings(opt, name)
  if (!is.null(s$betas)) {
    s$beta1 <- s$betas[[1]]
    s$beta2 <- s$betas[[2]]
    s$betas <- NULL
  }
  n <- length(theta)
  buffers <- switch(opt$name,
    adam = c(list(exp_avg = numeric(n), exp_avg_sq = numeric(n)),
             if (s$amsgrad) list(max_exp_avg_sq = numeric(n))),
    clipped_adam = list(exp_avg = numeric(n), exp_avg_sq = numeric(n)),
    sgd = if (s$momentum != 0) list(momentum_buffer = numeric(n)) else list()
  )
  list(optimizer = opt$name, settings = s, step = 0,
       lr = schedule_initial_lr(s$schedule, s$lr, name), initial_lr = s$lr, epoch = 0,
       buffers = buffers)
}

#' Step every parameter's learning-rate schedule once
#'
#' The training loop calls this (for example once per epoch). Parameters without a schedule,
#' and parameters not seen yet, are unaffected; a parameter seen later starts its schedule
#' from the beginning, as Pyro's lazily created per-parameter schedulers do.
#' @return `state`, invisibly.
#' @noRd
optim_schedule_step <- function(opt, state) {
  for (name in ls(state$params, sorted = TRUE)) {
    st <- state$params[[name]]
    sched <- st$settings$schedule
    if (is.null(sched)) next
    st$epoch <- st$epoch + 1
    st$lr <- schedule_next_lr(sched, st$lr, st$initial_lr, st$epoch, name)
    assign(name, st, envir = state$params)
  }
  invisible(state)
}

#' A parameter's current learning rate, or NULL if it has no optimizer state yet
#' @noRd
optim_lr <- function(state, name) {
  st <- state$params[[name]]
  if (is.null(st)) NULL else st$lr
}

#' Save and restore an optimizer state as a plain named list (one element per parameter)
#'
#' `optim_state_set()` replaces everything in `state` with `value`; a restored parameter keeps
#' its saved settings and learning rate whatever optimizer is passed later (as in Pyro, where
#' loading a state dict restores its param_groups).
#' @noRd
optim_state_get <- function(state) {
  as.list(state$params, sorted = TRUE)
}

#' @noRd
optim_state_set <- function(state, value) {
  fields <- c("optimizer", "settings", "step", "lr", "initial_lr", "epoch", "buffers")
  if (!is.list(value) || (length(value) && (is.null(names(value)) || any(names(value) == "")))) {
    cli::cli_abort("An optimizer state must be a named list of parameter states, not {bad_value(value)}.",
                   call = NULL)
  }
  for (name in names(value)) {
    st <- value[[name]]
    missing_fields <- setdiff(fields, names(st))
    if (!is.list(st) || length(missing_fields) ||
        !(is.character(st$optimizer) && st$optimizer %in% names(optim_titles))) {
      cli::cli_abort(c(
        "The saved optimizer state of parameter {.val {name}} is not one {.pkg svi} wrote.",
        i = if (length(missing_fields)) "It lacks {.field {missing_fields}}."
      ), call = NULL)
    }
  }
  rm(list = ls(state$params, all.names = TRUE), envir = state$params)
  for (name in names(value)) assign(name, value[[name]], envir = state$params)
  invisible(state)
}
