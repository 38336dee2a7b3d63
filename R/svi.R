#' Stochastic variational inference
#'
#' `svi()` pairs a model with a guide, an optimizer and a loss. Each `svi_step()` runs the
#' guide and the model (replayed on the guide's draws), estimates the loss (the negative
#' ELBO) and its gradient on the autodiff tape, and takes one optimizer step on every
#' parameter the step touched. `evaluate_loss()` estimates the loss without changing
#' anything.
#'
#' The svi object owns its parameter store and optimizer state (it is an environment, so
#' `svi_step(s)` updates `s` in place). Pass `store = other$store` to share parameters
#' between two svi objects.
#'
#' @param model,guide Functions taking the same arguments (passed through `...`).
#' @param optim An optimizer such as [adam()].
#' @param loss An ELBO such as [trace_elbo()].
#' @param store A parameter store to share, or `NULL` for a new one.
#' @param compile If `TRUE`, the first two steps record the model and guide on the tape and
#'   later steps replay that recording in C++ (much faster; the same losses as the dynamic
#'   mode for the same seed). The model's structure must be static: the same sites with the
#'   same shapes every step. Data arguments are then passed to the model as constant tensors,
#'   and minibatch indices from [plate()] are tensors too, so index data with them (`y[i]`,
#'   `X[i, ]`). Passing different data re-records. Minibatch rows `X[i, ]` of a data matrix
#'   larger than 4 MB are read from a row-major copy of it made on the first replay (memory:
#'   the matrix's size once more), which keeps the step's time nearly independent of its rows.
#' @param s An `svi` object.
#' @param ... Arguments passed to the model and the guide.
#' @return `svi()`: an object of class `svi`. `svi_step()`, `evaluate_loss()`: the loss
#'   estimate, a number.
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
#' y <- rnorm(20, 3)
#' s <- svi(model, guide, optim = adam(lr = 0.05), loss = trace_elbo())
#' for (i in 1:500) svi_step(s, y)
#' params(s)     # close to the exact posterior mean(y) * 20 / (20 + 0.01) and sd 1 / sqrt(20.01)
#' evaluate_loss(s, y)
#' @export
svi <- function(model, guide, optim, loss = trace_elbo(), store = NULL, compile = FALSE) {
  if (!is.function(model)) cli::cli_abort("{.arg model} must be a function.")
  if (!is.function(guide)) cli::cli_abort("{.arg guide} must be a function.")
  if (!inherits(optim, "svi_optim")) {
    cli::cli_abort("{.arg optim} must be an optimizer such as {.fn adam}, not {.obj_type_friendly {optim}}.")
  }
  if (!inherits(loss, "svi_elbo")) {
    cli::cli_abort("{.arg loss} must be an ELBO such as {.fn trace_elbo}, not {.obj_type_friendly {loss}}.")
  }
  if (!is.null(store) && !inherits(store, "svi_param_store")) {
    cli::cli_abort("{.arg store} must be the {.code $store} of another svi object, or {.code NULL}.")
  }
  s <- new.env(parent = emptyenv())
  s$model <- model
  s$guide <- guide
  s$optim <- optim
  s$loss <- loss
  s$store <- if (is.null(store)) new_param_store() else store
  s$optim_state <- optim_state_new()
  s$warned <- new.env(parent = emptyenv())
  if (!isTRUE(compile) && !isFALSE(compile)) cli::cli_abort("{.arg compile} must be {.code TRUE} or {.code FALSE}.")
  s$compile <- compile
  s$tape <- NULL
  s$steps <- 0L
  class(s) <- "svi"
  s
}

# The svi object's tape, rebuilt when missing (new object, or reloaded with readRDS()).
# (On the svi object and its store, .subset2() and assign() stand in for `$` and `$<-` on
# the per-step path: on a classed environment those look for S3 methods first, which costs
# about 1 us each.)
svi_tape <- function(s) {
  tape <- .subset2(s, "tape")
  if (is.null(tape) || !.Call(`_svi_cpp_tape_valid`, tape)) {
    tape <- .Call(`_svi_cpp_tape_new`)
    assign("tape", tape, envir = s)
  }
  tape
}

check_svi <- function(s, call = parent.frame()) {
  if (!inherits(s, "svi")) cli::cli_abort("{.arg s} must be an svi object from {.fn svi}.", call = call)
}

# Evaluates `expr` with the svi object's warning memory, rolling back parameters first created
# by a step that then fails (so a failed or interrupted step leaves the store as it was).
# The guard is registered before anything changes; a step whose update was committed keeps its
# parameters even if the interrupt lands after the commit (the step count tells).
with_svi <- function(s, expr) {
  old_warned <- .svi$warned
  store <- .subset2(s, "store")
  n_before <- length(.subset2(store, "values"))   # new parameters are appended
  steps_before <- .subset2(s, "steps")
  ok <- FALSE
  on.exit({
    .svi$warned <- old_warned
    if (!ok && identical(.subset2(s, "steps"), steps_before)) drop_params_after(store, n_before)
  }, add = TRUE)
  .svi$warned <- .subset2(s, "warned")
  out <- expr
  ok <- TRUE
  .svi$warned <- old_warned   # also in the body (see "Interrupt safety" in R/handlers.R)
  out
}

# Removes the parameters created after the first n_before (new parameters are appended).
drop_params_after <- function(store, n_before) {
  n <- length(store$values)
  if (n > n_before) {
    added <- names(store$values)[seq.int(n_before + 1L, n)]   # (x[-seq_len(0)] would be empty)
    store$values[added] <- NULL
    store$constraints[added] <- NULL
  }
}

#' @rdname svi
#' @export
svi_step <- function(s, ...) {
  if (!inherits(s, "svi")) check_svi(s)
  if (.subset2(s, "compile")) return(compiled_steps(s, list(...), 1L))
  # the usual case (R/svi-step-lean.R): one particle, outside any handler or other step
  if (.subset2(.subset2(s, "loss"), "num_particles") == 1L && !length(.svi$stack) &&
      is.null(.svi$ctx) && .svi$lean) {
    return(lean_step(s, ...))
  }
  args <- list(...)
  with_svi(s, {
    store <- .subset2(s, "store")
    res <- run_elbo(.subset2(s, "loss"), .subset2(s, "model"), .subset2(s, "guide"), args, store,
                    svi_tape(s), training = TRUE)
    if (step_is_finite(res)) commit_step(s, res)
    res$loss
  })
}

step_is_finite <- function(res) {
  bad_loss <- !is.finite(res$loss)
  if (!bad_loss && isTRUE(res$finite_grads)) return(TRUE)
  bad_grad <- names(res$grads)[!vapply(res$grads, function(g) all(is.finite(g)), TRUE)]
  if (!bad_loss && !length(bad_grad)) return(TRUE)
  what <- if (bad_loss) "the loss" else paste0("the gradient of ", paste0("{.val ", bad_grad, "}", collapse = ", "))
  svi_warn_once("nonfinite", c(
    paste0("Skipped a step: ", what, " is not finite (NaN or Inf)."),
    i = "The parameters were left unchanged. This warning is shown once per svi object."
  ))
  FALSE
}

# A step's update and its baseline averages, committed with interrupts held back until both
# are stored (and the step counted), so an interrupted step is all or nothing.
commit_step <- function(s, res) {
  suspendInterrupts({
    apply_update(s, res$grads)
    if (length(res$averages)) commit_averages(.subset2(s, "store"), res$averages)
  })
}

# All new values are computed before any is stored, and the optimizer state is put back if
# an update fails part-way, so a step is all or nothing (commit_step() holds interrupts back).
apply_update <- function(s, grads) {
  store <- .subset2(s, "store")
  # the usual case, every parameter already has a state of this optimizer: one C++ call reads,
  # steps and writes back all of them
  if (.Call(`_svi_cpp_optim_apply`, store, .subset2(s, "optim_state")$params, grads,
            .subset2(.subset2(s, "optim"), "name"))) {
    assign("steps", .subset2(s, "steps") + 1L, envir = s)
    return(invisible())
  }
  nms <- names(grads)
  values <- store$values
  saved <- optim_state_get(s$optim_state)
  done <- FALSE
  on.exit(if (!done) optim_state_set(s$optim_state, saved), add = TRUE)
  for (nm in nms) {
    values[[nm]] <- optim_update(s$optim, s$optim_state, nm, values[[nm]], grads[[nm]])
  }
  s$store$values <- values
  done <- TRUE
  s$steps <- s$steps + 1L
  invisible()
}

#' @rdname svi
#' @export
evaluate_loss <- function(s, ...) {
  check_svi(s)
  args <- list(...)
  with_svi(s, run_elbo(s$loss, s$model, s$guide, args, s$store, tape = NULL, training = FALSE)$loss)
}

#' Loss and gradients of an ELBO
#'
#' Estimates the loss (negative ELBO) of `guide` for `model` and its gradient with respect to
#' every parameter's unconstrained value. Parameters come from `store` if given, otherwise
#' from a fresh store initialised from the `param()` inits. Nothing is updated.
#'
#' @param loss An ELBO such as [trace_elbo()].
#' @param model,guide Model and guide functions.
#' @param ... Arguments passed to both.
#' @param store A parameter store (e.g. `s$store` of an svi object), or `NULL`.
#' @return A list with `loss` (a number) and `grads` (a named list of numeric gradients).
#' @examples
#' model <- function() sample_site("z", dist_normal(0, 1))
#' guide <- function() sample_site("z", dist_normal(param("m", 1), 1))
#' set.seed(1)
#' elbo_loss_and_grads(trace_elbo(), model, guide)
#' @export
elbo_loss_and_grads <- function(loss, model, guide, ..., store = NULL) {
  if (!inherits(loss, "svi_elbo")) cli::cli_abort("{.arg loss} must be an ELBO such as {.fn trace_elbo}.")
  check_fn(model)
  check_fn(guide)
  if (is.null(store)) store <- new_param_store()
  if (!inherits(store, "svi_param_store")) {
    cli::cli_abort("{.arg store} must be a parameter store (e.g. {.code s$store}) or {.code NULL}, not {.obj_type_friendly {store}}.")
  }
  tape <- .Call(`_svi_cpp_tape_new`)
  res <- run_elbo(loss, model, guide, list(...), store, tape, training = TRUE)
  grads <- lapply(names(res$grads), function(nm) {
    g <- res$grads[[nm]]
    u <- store$values[[nm]]
    if (!is.null(dim(u))) dim(g) <- dim(u)
    g
  })
  list(loss = res$loss, grads = stats::setNames(grads, names(res$grads)))
}

#' @export
print.svi <- function(x, ...) {
  cat("<svi> ", x$loss$name, ", ", optim_titles[[x$optim$name]], if (isTRUE(x$compile)) ", compiled", ", ", x$steps, " step",
      if (x$steps != 1L) "s", " taken\n", sep = "")
  p <- params(x)
  if (length(p)) {
    cat("Parameters:\n")
    for (nm in names(p)) {
      v <- p[[nm]]
      shown <- paste(format(utils::head(as.vector(v), 4), digits = 4), collapse = " ")
      if (length(v) > 4) shown <- paste(shown, "...")
      cat("  ", nm, ": ", shown, "\n", sep = "")
    }
  }
  invisible(x)
}
