# Learning-rate schedules. Each parameter's schedule advances when the training loop calls
# optim_schedule_step(); step, exponential and multistep decay run in the core
# (svi/optim/schedule.hpp), lr_lambda() calls back into R.

#' Learning-rate schedules
#'
#' Schedules change an optimizer's learning rate as training goes on. Give one to an optimizer
#' with its `schedule` argument; every parameter then follows it separately, counting schedule
#' steps from when the parameter was first seen. Schedules do not advance with every update:
#' they advance when the schedule is stepped (for example once per epoch), as Pyro's
#' `scheduler.step()`. They follow torch's schedulers of the same names:
#'
#' * `lr_step(step_size, gamma)` multiplies the learning rate by `gamma` every `step_size`
#'   schedule steps (`StepLR`).
#' * `lr_exponential(gamma)` multiplies it by `gamma` at every schedule step (`ExponentialLR`).
#' * `lr_multistep(milestones, gamma)` multiplies it by `gamma` at each schedule step listed in
#'   `milestones` (`MultiStepLR`).
#' * `lr_lambda(fn)` sets it to the initial learning rate times `fn(k)` after `k` schedule
#'   steps, including `k = 0` (`LambdaLR`).
#'
#' The first three multiply the *current* learning rate, so they compose with
#' [clipped_adam()]'s own decay `lrd`; `lr_lambda()` overrides it.
#'
#' @param step_size Number of schedule steps between decays, a whole number `>= 1`.
#' @param gamma Multiplicative factor, a number `>= 0`.
#' @param milestones Schedule steps at which to decay, whole numbers `>= 1`.
#' @param fn A function of the schedule step count `k` (0, 1, 2, ...) returning a single
#'   number `>= 0`, the factor applied to the initial learning rate.
#' @return A schedule, of class `c("svi_lr_<name>", "svi_lr_schedule")`.
#' @examples
#' adam(lr = 0.01, schedule = lr_step(step_size = 100, gamma = 0.5))
#' sgd(lr = 0.1, schedule = lr_exponential(0.99))
#' adam(lr = 0.01, schedule = lr_multistep(c(100, 300), gamma = 0.1))
#' adam(lr = 0.01, schedule = lr_lambda(function(k) 1 / (1 + k)))
#' @name lr_schedules
NULL

#' @rdname lr_schedules
#' @export
lr_step <- function(step_size, gamma = 0.1) {
  call <- environment()
  check_whole(step_size, "step_size", call)
  check_num(gamma, "gamma", ">= 0", call)
  new_schedule("step", step_size = as.numeric(step_size), gamma = gamma)
}

#' @rdname lr_schedules
#' @export
lr_exponential <- function(gamma) {
  call <- environment()
  if (missing(gamma)) cli::cli_abort("{.arg gamma} is missing, with no default.", call = call)
  check_num(gamma, "gamma", ">= 0", call)
  new_schedule("exponential", gamma = gamma)
}

#' @rdname lr_schedules
#' @export
lr_multistep <- function(milestones, gamma = 0.1) {
  call <- environment()
  check_whole(milestones, "milestones", call, scalar = FALSE)
  check_num(gamma, "gamma", ">= 0", call)
  new_schedule("multistep", milestones = as.numeric(milestones), gamma = gamma)
}

#' @rdname lr_schedules
#' @export
lr_lambda <- function(fn) {
  if (!is.function(fn)) {
    cli::cli_abort(c("{.arg fn} must be a function of the schedule step count.",
                     x = "It is {bad_value(fn)}."))
  }
  new_schedule("lambda", fn = fn)
}

new_schedule <- function(kind, ...) {
  structure(list(kind = kind, ...), class = c(paste0("svi_lr_", kind), "svi_lr_schedule"))
}

check_whole <- function(x, arg, call, scalar = TRUE) {
  ok <- is.numeric(x) && length(x) >= 1L && (!scalar || length(x) == 1L) && !anyNA(x) &&
    all(is.finite(x)) && all(x >= 1) && all(x == round(x))
  if (!ok) {
    what <- if (scalar) "a single whole number {.code >= 1}" else "whole numbers {.code >= 1}"
    cli::cli_abort(c(paste0("{.arg {arg}} must be ", what, "."), x = "It is {bad_value(x)}."),
                   call = call)
  }
  invisible(x)
}

# The learning rate a parameter starts with: torch's LambdaLR applies fn(0) at construction.
schedule_initial_lr <- function(schedule, lr, name) {
  if (is.null(schedule) || schedule$kind != "lambda") return(lr)
  lr * lambda_factor(schedule, 0, name)
}

# The learning rate after the schedule advances to `epoch` (1, 2, ...).
schedule_next_lr <- function(schedule, lr, initial_lr, epoch, name) {
  if (schedule$kind == "lambda") return(initial_lr * lambda_factor(schedule, epoch, name))
  .Call(`_svi_cpp_optim_schedule_lr`, schedule$kind, lr, epoch,
        if (is.null(schedule$step_size)) 1 else schedule$step_size, schedule$gamma,
        if (is.null(schedule$milestones)) numeric() else schedule$milestones)
}

lambda_factor <- function(schedule, epoch, name) {
  f <- schedule$fn(epoch)
  if (!is.numeric(f) || length(f) != 1L || is.na(f) || !is.finite(f) || f < 0) {
    cli::cli_abort(c(
      "The function of {.fn lr_lambda} must return a single number {.code >= 0}.",
      x = "At schedule step {epoch} for parameter {.val {name}} it returned {bad_value(f)}."
    ), call = NULL)
  }
  as.numeric(f)
}

#' @export
format.svi_lr_schedule <- function(x, ...) {
  fmt <- function(v) paste(vapply(v, format, "", digits = 6), collapse = ", ")
  switch(x$kind,
    step = paste0("step decay: lr * ", fmt(x$gamma), " every ", fmt(x$step_size),
                  " schedule step", if (x$step_size != 1) "s"),
    exponential = paste0("exponential decay: lr * ", fmt(x$gamma), " every schedule step"),
    multistep = paste0("multistep decay: lr * ", fmt(x$gamma), " at schedule steps ",
                       fmt(x$milestones)),
    lambda = "lambda: initial lr * fn(schedule step)"
  )
}

#' @export
print.svi_lr_schedule <- function(x, ...) {
  cat("<svi lr schedule> ", format(x), "\n", sep = "")
  invisible(x)
}
