# The parameter store: name -> unconstrained value + constraint, all plain R values (so a
# store survives saveRDS()). Each svi() object owns one; param() outside any svi object uses
# a package-level default store.

new_param_store <- function() {
  e <- new.env(parent = emptyenv())
  e$values <- list()
  e$constraints <- list()
  e$averages <- list()     # decaying-average baselines (tracegraph_elbo), outside the optimizer
  class(e) <- "svi_param_store"
  e
}

.svi$default_store <- new_param_store()

# Returns the parameter's constrained value: a handle on the step's tape while one is recorded
# (one Input leaf per parameter per step, however often param() is called), else numeric.
store_param <- function(store, name, init, constraint, call = parent.frame(), names = NULL) {
  ctx <- .svi$ctx
  recording <- !is.null(ctx) && !is.null(ctx$tape) && identical(ctx$store, store)
  if (recording) {
    h <- ctx$handles[[name]]   # param() called again in the same step
    if (!is.null(h)) return(h)
  }
  u <- .subset2(store, "values")[[name]]
  if (!is.null(u) && !is.null(init) && !is.function(init)) check_param_shape(name, init, u, call)
  if (is.null(u)) {
    u <- init_param(name, init, constraint, call, names)
    store$values[[name]] <- u
    store$constraints[[name]] <- constraint
  }
  constraint <- .subset2(store, "constraints")[[name]]   # the one it was created with
  if (recording) {
    leaf <- .Call(`_svi_cpp_tape_input`, ctx$tape, u, name)
    h <- constraint_from_unconstrained(constraint, leaf)
    ctx$leaves[[name]] <- leaf
    ctx$handles[[name]] <- h
    return(h)
  }
  constraint_from_unconstrained(constraint, u)
}

# A parameter asked for again with an init of another shape.
check_param_shape <- function(name, init, u, call) {
  if (is_tensor(init)) init <- value_of_keep_dim(init)
  if (!is.numeric(init) && !is.logical(init)) return(invisible())
  shape <- function(x) if (is.null(dim(x))) length(x) else dim(x)
  if (!identical(as.integer(shape(init)), as.integer(shape(u))) ||
      is.null(dim(init)) != is.null(dim(u))) {
    fmt <- function(x) paste0("[", paste(shape(x), collapse = " x "), "]")
    cli::cli_abort(c(
      "Parameter {.val {name}} exists with shape {fmt(u)}, but {.arg init} has shape {fmt(init)}.",
      i = "Use a new name for a parameter of another shape, or a new svi object (or parameter store)."
    ), call = call)
  }
}

init_param <- function(name, init, constraint, call, names = NULL) {
  if (is.null(init)) {
    cli::cli_abort("Parameter {.val {name}} does not exist yet and has no {.arg init}.", call = call)
  }
  if (is.function(init)) init <- init()
  if (is_tensor(init)) init <- value_of_keep_dim(init)
  if (!is.numeric(init) && !is.logical(init)) {
    cli::cli_abort("{.arg init} of param {.val {name}} must be numeric, not {.obj_type_friendly {init}}.", call = call)
  }
  if (!length(init)) cli::cli_abort("{.arg init} of param {.val {name}} is empty.", call = call)
  if (anyNA(init)) cli::cli_abort("{.arg init} of param {.val {name}} contains {.code NA} or {.code NaN}.", call = call)
  storage.mode(init) <- "double"
  if (!is.null(names)) init <- set_param_names(name, init, names, call)
  u <- suppressWarnings(constraint_to_unconstrained(constraint, init))  # NaN outside the support: reported below
  if (any(!is.finite(u))) {
    cli::cli_abort(c(
      "{.arg init} of param {.val {name}} is outside the support of its constraint ({constraint_name(constraint)}).",
      i = "Give an initial value strictly inside the constraint."
    ), call = call)
  }
  attributes(u) <- attributes(init)
  u
}

# Constrained values of every parameter in a store, as plain numerics.
store_values <- function(store) {
  out <- lapply(names(store$values), function(nm) {
    as_plain(constraint_from_unconstrained(store$constraints[[nm]], store$values[[nm]]),
             store$values[[nm]])
  })
  stats::setNames(out, names(store$values))
}

as_plain <- function(v, like) {
  v <- as.vector(v)
  if (!is.null(dim(like)) && length(v) == length(like)) dim(v) <- dim(like)
  v
}

#' Parameter values
#'
#' The current constrained values of all parameters of an [svi()] object (or of a parameter
#' store), as plain R numerics.
#'
#' @param x An `svi` object.
#' @param ... Unused.
#' @return A named list of numeric vectors/arrays.
#' @examples
#' guide <- function() sample_site("mu", dist_normal(param("loc", 1), 1))
#' model <- function() sample_site("mu", dist_normal(0, 1))
#' s <- svi(model, guide, adam(0.01), trace_elbo())
#' params(s)        # empty until the first step creates the parameters
#' svi_step(s)
#' params(s)
#' @export
params <- function(x, ...) UseMethod("params")

#' @export
params.svi <- function(x, ...) store_values(x$store)

#' @export
params.svi_param_store <- function(x, ...) store_values(x)

set_param_names <- function(name, init, names, call) {
  if (is.list(names)) {
    if (is.null(dim(init)) || length(names) != length(dim(init)) ||
        !all(lengths(names) == dim(init) | vapply(names, is.null, TRUE))) {
      cli::cli_abort("{.arg names} of param {.val {name}} must be a list with one name vector per dimension of {.arg init}.", call = call)
    }
    dimnames(init) <- names
  } else {
    if (!is.character(names) || length(names) != length(init) || !is.null(dim(init))) {
      cli::cli_abort(c("{.arg names} of param {.val {name}} must be {length(init)} string{?s}, one per element of {.arg init}.",
                       x = "It has length {length(names)}."), call = call)
    }
    names(init) <- names
  }
  init
}
