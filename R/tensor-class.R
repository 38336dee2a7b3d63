# Tensor handles: S3 objects (external pointers) that point at a node of a recording tape.
# They also carry the S4 bit, registered here with setOldClass(), because in R < 4.3 `%*%`
# dispatches only on S4 objects.
methods::setOldClass("svi_tensor")

#' Is an object a tensor handle?
#'
#' Inside a model, a guide or a function given to [value_and_grad()], parameters and
#' reparameterized samples are *tensor handles*: references to nodes of the autodiff tape.
#' Arithmetic, the Math and Summary group generics, `%*%`, `[` and friends work on them and
#' return new handles.
#'
#' @param x An object.
#' @return `is_tensor()`: `TRUE` or `FALSE`. `tensor_value()`: the numeric value of a live
#'   handle (with its dims), or `x` unchanged when it is not a handle.
#' @examples
#' value_and_grad(function(x) {
#'   stopifnot(is_tensor(x))
#'   sum(x^2)
#' }, c(1, 2))
#' @export
is_tensor <- function(x) inherits(x, "svi_tensor")

#' @rdname is_tensor
#' @export
tensor_value <- function(x) {
  ctx <- .svi$ctx
  if (!is.null(ctx) && isTRUE(ctx$compile) && is_tensor(x)) {
    cli::cli_abort(c(
      "{.fn tensor_value} was called while a compiled step was being recorded.",
      x = "A compiled model cannot depend on the values of its tensors: a replay would not see a branch change.",
      i = "Use {.code svi(..., compile = FALSE)} for this model."
    ), call = NULL)
  }
  .Call(`_svi_cpp_tensor_value`, x)
}

#' @export
length.svi_tensor <- function(x) .Call(`_svi_cpp_tensor_length`, x)

#' @export
dim.svi_tensor <- function(x) .Call(`_svi_cpp_tensor_dim`, x)

#' @export
`dim<-.svi_tensor` <- function(x, value) .Call(`_svi_cpp_tensor_reshape`, x, value)

#' @export
format.svi_tensor <- function(x, ...) {
  if (!.Call(`_svi_cpp_tensor_is_live`, x)) return("<svi_tensor: stale>")
  d <- dim(x)
  shape <- if (is.null(d)) paste("length", length(x)) else paste(d, collapse = " x ")
  paste0("<svi_tensor: ", shape, ">")
}

#' @export
print.svi_tensor <- function(x, ...) {
  cat(format(x), "\n", sep = "")
  if (.Call(`_svi_cpp_tensor_is_live`, x)) print(tensor_value(x), ...)
  invisible(x)
}

setMethod("show", "svi_tensor", function(object) print.svi_tensor(object))

#' @export
as.numeric.svi_tensor <- function(x, ...) {
  cli::cli_abort(c(
    "Cannot convert a tensor handle with {.fn as.numeric} while it is being recorded.",
    i = "Its value would be cut off from the gradient. Use {.fn tensor_value} if that is what you want."
  ))
}

#' @export
as.double.svi_tensor <- as.numeric.svi_tensor

#' @export
as.vector.svi_tensor <- function(x, mode = "any") as.numeric.svi_tensor(x)

#' @export
`[[.svi_tensor` <- function(x, i, ...) {
  if (...length() > 0L || length(i) != 1L) {
    cli::cli_abort("{.code x[[i]]} on a tensor handle takes one position; use {.code x[i]} for more.")
  }
  x[i]
}

#' @export
`[<-.svi_tensor` <- function(x, ..., value) {
  cli::cli_abort(c(
    "Cannot assign into a tensor handle ({.code x[i] <- value}).",
    i = "The tape records new values, never changes to old ones: build the result with {.fn c}, {.fn cbind} or arithmetic instead."
  ))
}

#' @export
`[[<-.svi_tensor` <- `[<-.svi_tensor`

# The package's .onLoad (add to it rather than defining another one).
#
# S4 methods on primitives (`+`, `*`, `%*%`, `c` for handles) dispatch through a fast C path
# only once the methods package has refreshed its cache for that primitive; the caching done
# while a namespace loads leaves them on a slow path (about 4 us per call against 1 us). A
# user hook for the package's load event runs after loading is complete, and refreshes it.
.onLoad <- function(libname, pkgname) {
  hook <- function(...) refresh_primitive_methods()
  attr(hook, "svi_dispatch") <- TRUE
  event <- packageEvent(pkgname, "onLoad")
  others <- Filter(function(h) is.null(attr(h, "svi_dispatch")), getHook(event))
  setHook(event, c(others, hook), "replace")
}

refresh_primitive_methods <- function() {
  ns <- asNamespace("svi")
  for (op in c("+", "-", "*", "/", "^", "%*%", "c", "exp", "log", "sqrt", "abs", "log1p", "expm1",
                "tanh", "sin", "cos", "lgamma", "digamma", "cumsum", "sum", "[")) {
    methods::cacheGenericsMetaData(op, methods::getGeneric(op), TRUE, ns)
  }
}
