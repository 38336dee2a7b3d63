# Optimizer configurations: adam(), clipped_adam(), sgd(). They only hold settings; the state
# (moments, step counts, current learning rates) lives in an optimizer state (R/optim-state.R)
# and the arithmetic in inst/include/svi/optim/.

#' Optimizers for SVI
#'
#' Configurations of the optimizers that [svi()] uses to update the parameters. As in Pyro,
#' every parameter gets its own optimizer state, created the first time the parameter is
#' seen, so parameters can have their own settings (`per_param`) and their own learning-rate
#' schedule.
#'
#' * `adam()` is Adam with torch's defaults and update (L2 `weight_decay` added to the
#'   gradient; `amsgrad = TRUE` for the AMSGrad variant).
#' * `clipped_adam()` is Pyro's `ClippedAdam`: each gradient element is clamped to
#'   `[-clip_norm, clip_norm]` (an elementwise clamp, despite the name), the learning rate is
#'   multiplied by `lrd` before every update (so after `k` steps it is `lr * lrd^k`), and `eps`
#'   is added to the uncorrected root of the second moment.
#' * `sgd()` is stochastic gradient descent with torch's momentum, `dampening` and
#'   `nesterov` options.
#'
#' **Gradient clipping** (`adam()`, `sgd()`): `clip_norm` rescales a parameter's gradient by
#' `clip_norm / (norm + 1e-6)` when that is below 1 (torch's `clip_grad_norm_`, applied to each
#' parameter separately); `clip_value` clamps each element to `[-clip_value, clip_value]`. With
#' both, the norm is clipped first.
#'
#' **Per-parameter settings**: `per_param` is a function of the parameter's name returning a
#' named list that overrides any of the other arguments for that parameter (Pyro's callable
#' `optim_args`), or `NULL` for no change. It is called once per parameter, when the
#' parameter's state is created.
#'
#' **Missing gradients**: a parameter that has never received a gradient is not updated (torch
#' skips parameters whose gradient was never set); once it has been updated, a missing
#' gradient counts as zero, because Pyro zeroes gradients after each step instead of
#' clearing them. Like Pyro, `clipped_adam()` still decays such a parameter's learning rate.
#'
#' @param lr Learning rate, a number `>= 0`. With `lr = 0` a parameter is left bit-identical.
#' @param betas Decay rates of the first and second moment averages, two numbers in `[0, 1)`.
#' @param eps Added to the denominator for numerical stability, a number `>= 0`.
#' @param weight_decay L2 penalty coefficient added to the gradient as `weight_decay * theta`.
#' @param clip_norm For `adam()` and `sgd()`: `NULL` or the largest gradient 2-norm allowed
#'   per parameter. For `clipped_adam()`: the bound of the elementwise clamp.
#' @param clip_value `NULL` or the largest absolute gradient element allowed.
#' @param schedule `NULL` or a learning-rate schedule such as [lr_step()], stepped once per
#'   call of the training loop's schedule step (for example once per epoch).
#' @param per_param `NULL` or a function of a parameter name returning a named list of
#'   settings for that parameter (see Details).
#' @param amsgrad Use the running maximum of the second moment (AMSGrad)?
#' @param lrd Learning-rate decay factor applied before every update, a number `> 0`.
#' @param momentum Momentum factor, a number `>= 0`.
#' @param dampening Dampening for momentum, a number in `[0, 1]`.
#' @param nesterov Use Nesterov momentum? Needs `momentum > 0` and `dampening = 0`.
#' @return An optimizer configuration, of class `c("svi_optim_<name>", "svi_optim")`.
#' @seealso [lr_step()] and friends for learning-rate schedules.
#' @examples
#' adam(lr = 0.01)
#' clipped_adam(lr = 0.01, lrd = 0.999)
#' sgd(lr = 0.1, momentum = 0.9)
#'
#' # a larger learning rate for the scales than for everything else
#' adam(lr = 0.01, per_param = function(name) {
#'   if (grepl("scale", name)) list(lr = 0.05) else list()
#' })
#'
#' # decay the learning rate tenfold every 1000 schedule steps
#' adam(lr = 0.01, schedule = lr_step(step_size = 1000, gamma = 0.1))
#' @name optimizers
NULL

#' @rdname optimizers
#' @export
adam <- function(lr = 0.001, betas = c(0.9, 0.999), eps = 1e-8, weight_decay = 0,
                 clip_norm = NULL, clip_value = NULL, schedule = NULL, per_param = NULL,
                 amsgrad = FALSE) {
  args <- list(lr = lr, betas = betas, eps = eps, weight_decay = weight_decay,
               clip_norm = clip_norm, clip_value = clip_value, schedule = schedule,
               amsgrad = amsgrad)
  new_optim("adam", args, per_param, environment())
}

#' @rdname optimizers
#' @export
clipped_adam <- function(lr = 0.001, betas = c(0.9, 0.999), eps = 1e-8, weight_decay = 0,
                         clip_norm = 10, lrd = 1, schedule = NULL, per_param = NULL) {
  args <- list(lr = lr, betas = betas, eps = eps, weight_decay = weight_decay,
               clip_norm = clip_norm, lrd = lrd, schedule = schedule)
  new_optim("clipped_adam", args, per_param, environment())
}

#' @rdname optimizers
#' @export
sgd <- function(lr, momentum = 0, weight_decay = 0, dampening = 0, nesterov = FALSE,
                clip_norm = NULL, clip_value = NULL, schedule = NULL, per_param = NULL) {
  if (missing(lr)) cli::cli_abort("{.arg lr} is missing; {.fn sgd} has no default learning rate.")
  args <- list(lr = lr, momentum = momentum, weight_decay = weight_decay,
               dampening = dampening, nesterov = nesterov, clip_norm = clip_norm,
               clip_value = clip_value, schedule = schedule)
  new_optim("sgd", args, per_param, environment())
}

new_optim <- function(name, args, per_param, call) {
  check_optim_args(name, args, call)
  if (!is.null(per_param) && !is.function(per_param)) {
    cli::cli_abort(c(
      "{.arg per_param} must be {.code NULL} or a function of the parameter name.",
      x = "It is {.obj_type_friendly {per_param}}."
    ), call = call)
  }
  structure(list(name = name, args = args, per_param = per_param),
            class = c(paste0("svi_optim_", name), "svi_optim"))
}

# ---- argument checks ------------------------------------------------------------------------

optim_titles <- c(adam = "Adam", clipped_adam = "ClippedAdam", sgd = "SGD")

check_optim_args <- function(name, args, call) {
  a <- args
  check_num(a$lr, "lr", ">= 0", call)
  if (!is.null(a$betas)) {
    b <- a$betas
    if (!is.numeric(b) || length(b) != 2L || anyNA(b) || any(b < 0 | b >= 1)) {
      cli::cli_abort(c(
        "{.arg betas} must be two numbers in [0, 1).",
        x = "It is {bad_value(b)}."
      ), call = call)
    }
  }
  if ("eps" %in% names(a)) check_num(a$eps, "eps", ">= 0", call)
  check_num(a$weight_decay, "weight_decay", ">= 0", call)
  if (name == "clipped_adam") {
    check_num(a$clip_norm, "clip_norm", "> 0", call)
    check_num(a$lrd, "lrd", "> 0", call)
  } else {
    if (!is.null(a$clip_norm)) check_num(a$clip_norm, "clip_norm", "> 0", call, null_ok = TRUE)
    if (!is.null(a$clip_value)) check_num(a$clip_value, "clip_value", "> 0", call, null_ok = TRUE)
  }
  if (name == "sgd") {
    check_num(a$momentum, "momentum", ">= 0", call)
    check_num(a$dampening, "dampening", "[0, 1]", call)
    check_flag(a$nesterov, "nesterov", call)
    if (a$nesterov && (a$momentum == 0 || a$dampening != 0)) {
      cli::cli_abort(c(
        "Nesterov momentum needs {.code momentum > 0} and {.code dampening = 0}.",
        x = "{.arg momentum} is {a$momentum} and {.arg dampening} is {a$dampening}."
      ), call = call)
    }
  }
  if (name == "adam") check_flag(a$amsgrad, "amsgrad", call)
  if (!is.null(a$schedule) && !inherits(a$schedule, "svi_lr_schedule")) {
    cli::cli_abort(c(
      "{.arg schedule} must be {.code NULL} or a learning-rate schedule such as {.fn lr_step}.",
      x = "It is {bad_value(a$schedule)}."
    ), call = call)
  }
  invisible(args)
}

# A single finite number within `range` (">= 0", "> 0" or "[0, 1]").
check_num <- function(x, arg, range, call, null_ok = FALSE) {
  ok <- is.numeric(x) && length(x) == 1L && !is.na(x) && is.finite(x) &&
    switch(range, ">= 0" = x >= 0, "> 0" = x > 0, "[0, 1]" = x >= 0 && x <= 1)
  if (!ok) {
    what <- switch(range, ">= 0" = "a single number {.code >= 0}",
                   "> 0" = "a single number {.code > 0}", "[0, 1]" = "a single number in [0, 1]")
    if (null_ok) what <- paste("{.code NULL} or", what)
    cli::cli_abort(c(paste0("{.arg {arg}} must be ", what, "."), x = "It is {bad_value(x)}."),
                   call = call)
  }
  invisible(x)
}

bad_value <- function(x) {
  if (is.numeric(x) && length(x) >= 1L && length(x) <= 4L) {
    paste(vapply(x, format, "", digits = 15), collapse = ", ")
  } else if (is.null(x)) {
    "NULL"
  } else {
    cli::format_inline("{.obj_type_friendly {x}}")
  }
}

# ---- per-parameter settings -----------------------------------------------------------------

# The settings of one parameter: the constructor's arguments overridden by per_param(name),
# checked exactly as the constructor checks them.
optim_param_settings <- function(opt, name) {
  args <- opt$args
  if (is.null(opt$per_param)) return(args)
  over <- opt$per_param(name)
  if (is.null(over)) return(args)
  title <- optim_titles[[opt$name]]
  if (!is.list(over) || (length(over) && (is.null(names(over)) || any(names(over) == "")))) {
    cli::cli_abort(c(
      "{.arg per_param} must return a named list of settings.",
      x = "For parameter {.val {name}} it returned {bad_value(over)}."
    ), call = NULL)
  }
  unknown <- setdiff(names(over), names(args))
  if (length(unknown)) {
    cli::cli_abort(c(
      "{.arg per_param} returned {cli::qty(unknown)}setting{?s} {.field {unknown}} for parameter {.val {name}}, which {title} does not have.",
      i = "{title} settings: {.field {names(args)}}."
    ), call = NULL)
  }
  for (nm in names(over)) args[nm] <- list(over[[nm]])
  tryCatch(check_optim_args(opt$name, args, NULL), error = function(e) {
    cli::cli_abort("Invalid settings from {.arg per_param} for parameter {.val {name}}.",
                   parent = e, call = NULL)
  })
  args
}

#' @export
print.svi_optim <- function(x, ...) {
  a <- x$args
  cat("<svi optimizer: ", optim_titles[[x$name]], ">\n", sep = "")
  fmt <- function(v) paste(vapply(v, format, "", digits = 6), collapse = ", ")
  main <- c(lr = fmt(a$lr))
  if (!is.null(a$betas)) main <- c(main, betas = paste0("(", fmt(a$betas), ")"))
  if (!is.null(a$eps)) main <- c(main, eps = fmt(a$eps))
  if (x$name == "sgd") {
    main <- c(main, momentum = fmt(a$momentum))
    if (a$dampening != 0) main <- c(main, dampening = fmt(a$dampening))
    if (a$nesterov) main <- c(main, nesterov = "TRUE")
  }
  main <- c(main, weight_decay = fmt(a$weight_decay))
  if (isTRUE(a$amsgrad)) main <- c(main, amsgrad = "TRUE")
  if (x$name == "clipped_adam") main <- c(main, clip_norm = fmt(a$clip_norm), lrd = fmt(a$lrd))
  cat("  ", paste(names(main), main, sep = " = ", collapse = ", "), "\n", sep = "")
  if (x$name != "clipped_adam" && (!is.null(a$clip_norm) || !is.null(a$clip_value))) {
    clip <- c(if (!is.null(a$clip_norm)) paste("norm", fmt(a$clip_norm)),
              if (!is.null(a$clip_value)) paste("value", fmt(a$clip_value)))
    cat("  gradient clipping: ", paste(clip, collapse = ", then "), "\n", sep = "")
  }
  if (!is.null(a$schedule)) cat("  schedule: ", format(a$schedule), "\n", sep = "")
  if (!is.null(x$per_param)) cat("  per-parameter settings: from `per_param`\n")
  invisible(x)
}
