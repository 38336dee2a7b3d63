#' Value and gradient of an R function, by reverse-mode automatic differentiation
#'
#' Records `f(x)` on a fresh tape, with `x` entering as a tensor handle (or a named list of
#' handles), and returns the value and the gradient of the result with respect to `x`.
#' `f` must return a single number built from `x` with operations svi can tape
#' (see [tensor-ops]).
#'
#' @param f A function of one argument returning a length-1 result.
#' @param x A numeric vector, matrix or array, or a named list of them.
#' @return A list with `value` (a number) and `grad` (the gradient, with `x`'s shape, or a
#'   list of gradients with `x`'s names).
#' @examples
#' x <- matrix(c(0.5, -1, 2, 0.1, 0.3, -0.7), 2)
#' value_and_grad(function(x) sum(log1p(exp(x %*% t(x)))), x)
#' value_and_grad(function(p) sum(p$a * p$b), list(a = 1:3, b = c(2, 2, 2)))
#' @export
value_and_grad <- function(f, x) {
  if (!is.function(f)) cli::cli_abort("{.arg f} must be a function, not {.obj_type_friendly {f}}.")
  is_list <- is.list(x)
  if (is_list) {
    if (length(x) && (is.null(names(x)) || any(names(x) == ""))) {
      cli::cli_abort("When {.arg x} is a list, every element must be named.")
    }
  }
  call <- environment()
  check_input <- function(v, what) {
    if (!is.numeric(v) && !is.logical(v)) {
      cli::cli_abort("{.arg {what}} must be numeric, not {.obj_type_friendly {v}}.", call = call)
    }
    if (anyNA(v)) cli::cli_abort("{.arg {what}} contains {.code NA} or {.code NaN}.", call = call)
  }
  tape <- .Call(`_svi_cpp_tape_new`)
  on.exit(.Call(`_svi_cpp_tape_stop`, tape), add = TRUE)   # first: stopping an unstarted tape is fine
  .Call(`_svi_cpp_tape_start`, tape)
  if (is_list) {
    xs <- Map(function(v, nm) {
      check_input(v, paste0("x$", nm))
      .Call(`_svi_cpp_tape_input`, tape, v, paste0("x$", nm))
    }, x, names(x))
  } else {
    check_input(x, "x")
    xs <- .Call(`_svi_cpp_tape_input`, tape, x, "x")
  }
  out <- f(xs)
  if (!is_tensor(out)) {
    if (!is.numeric(out) || length(out) != 1L) {
      cli::cli_abort("{.arg f} must return a single number, not {.obj_type_friendly {out}}.")
    }
    zero <- function(v) { v[] <- 0; storage.mode(v) <- "double"; v }
    .Call(`_svi_cpp_tape_stop`, tape)   # also in the body (see "Interrupt safety" in R/handlers.R)
    return(list(value = as.double(out), grad = if (is_list) lapply(x, zero) else zero(x)))
  }
  if (length(out) != 1L) {
    cli::cli_abort("{.arg f} must return a single number; it returned a tensor of length {length(out)}.")
  }
  .Call(`_svi_cpp_tape_backward`, out)
  value <- as.vector(.Call(`_svi_cpp_tensor_value`, out))
  grad_of <- function(h, v) {
    g <- .Call(`_svi_cpp_tensor_grad`, h)
    attributes(g) <- attributes(v)
    storage.mode(g) <- "double"
    g
  }
  grad <- if (is_list) Map(grad_of, xs, x) else grad_of(xs, x)
  .Call(`_svi_cpp_tape_stop`, tape)
  list(value = value, grad = grad)
}
