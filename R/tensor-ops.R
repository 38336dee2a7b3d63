# Group generics and base functions on tensor handles. Each is one .Call into the core.

#' Arithmetic and math on tensor handles
#'
#' `+ - * / ^`, unary minus, the Math group (`exp`, `log`, `sqrt`, `abs`, `log1p`, `expm1`,
#' `tanh`, `sin`, `cos`, `lgamma`, `digamma`, `cumsum`), `sum`, `max`, `min`, `mean`, `t`,
#' `[`, `c` and `%*%` work on tensor handles and on mixes of handles and numerics. Numerics
#' enter the tape as constants without being copied.
#'
#' Shapes broadcast only when one side has length 1 or both have the same shape; anything
#' else is an error (never R's silent recycling). Comparisons and logical operators are
#' errors: a handle's value is not known to R code while it is being recorded.
#'
#' @param e1,e2,x,y,i,j,... Tensor handles or numerics.
#' @param drop Drop dimensions of extent 1 after indexing (as in base R).
#' @param na.rm Ignored (missing values never enter a tape).
#' @param base Base of the logarithm.
#' @return A tensor handle.
#' @name tensor-ops
#' @examples
#' value_and_grad(function(x) sum(exp(x) / 2 + x[2]^3), c(0, 1))
NULL

#' @rdname tensor-ops
#' @export
Ops.svi_tensor <- function(e1, e2) {
  if (nargs() == 1L) .Call(`_svi_cpp_tensor_ops`, .Generic, e1, NULL)
  else .Call(`_svi_cpp_tensor_ops`, .Generic, e1, e2)
}

#' @rdname tensor-ops
#' @export
Math.svi_tensor <- function(x, ...) {
  if (.Generic == "log" && ...length() > 0L) {
    return(.Call(`_svi_cpp_tensor_math`, "log", x) / log(..1))
  }
  .Call(`_svi_cpp_tensor_math`, .Generic, x)
}

#' @rdname tensor-ops
#' @export
Summary.svi_tensor <- function(..., na.rm = FALSE) {
  args <- list(...)
  kind <- .Generic
  if (!kind %in% c("sum", "max", "min")) {
    cli::cli_abort("{.fn {kind}} is not supported on tensor handles.")
  }
  parts <- lapply(args, function(a) {
    if (is_tensor(a)) .Call(`_svi_cpp_tensor_reduce`, a, kind, 0L) else get(kind)(a)
  })
  if (length(parts) == 1L) return(parts[[1L]])
  if (kind == "sum") return(Reduce(`+`, parts))
  .Call(`_svi_cpp_tensor_reduce`, do.call(c, parts), kind, 0L)
}

#' @rdname tensor-ops
#' @export
mean.svi_tensor <- function(x, ...) .Call(`_svi_cpp_tensor_reduce`, x, "mean", 0L)

#' @rdname tensor-ops
#' @export
t.svi_tensor <- function(x) .Call(`_svi_cpp_tensor_t`, x)

#' @rdname tensor-ops
#' @export
c.svi_tensor <- function(...) .Call(`_svi_cpp_tensor_concat`, list(...))

#' @rdname tensor-ops
#' @export
`[.svi_tensor` <- function(x, i, j, ..., drop = TRUE) {
  nd <- length(dim(x))
  two <- (nargs() - (!missing(drop))) >= 3L
  if (!two) {
    if (missing(i)) return(x)
    return(.Call(`_svi_cpp_tensor_gather`, x, tensor_index(i, length(x)), 0L))
  }
  if (nd != 2L) cli::cli_abort("{.code x[i, j]} needs a matrix; this tensor has {nd} dim{?s}.")
  d <- dim(x)
  out <- x
  if (!missing(i)) out <- .Call(`_svi_cpp_tensor_gather`, out, tensor_index(i, d[1L]), 1L)
  if (!missing(j)) out <- .Call(`_svi_cpp_tensor_gather`, out, tensor_index(j, d[2L]), 2L)
  if (drop) {
    dd <- dim(out)
    if (any(dd == 1L)) dim(out) <- if (sum(dd != 1L) >= 2L) dd[dd != 1L] else NULL
  }
  out
}

# R's index forms (positive, negative, logical) -> 1-based positions; handles pass through.
tensor_index <- function(i, n) {
  if (is_tensor(i)) return(i)
  if (is.logical(i)) {
    if (anyNA(i)) cli::cli_abort("A logical index must not contain {.code NA}.")
    if (length(i) != n) cli::cli_abort("A logical index must have length {n}, not {length(i)}.")
    return(which(i))
  }
  if (!is.numeric(i)) cli::cli_abort("Indices must be numeric or logical, not {.cls {class(i)}}.")
  if (anyNA(i)) cli::cli_abort("Indices must not contain {.code NA}.")
  if (length(i) && all(i <= 0)) return(seq_len(n)[i])
  if (any(i < 1)) cli::cli_abort("Cannot mix positive and negative (or zero) indices.")
  if (any(i > n)) cli::cli_abort("Index {max(i)} is out of range: the tensor has {n} element{?s} along this dimension.")
  i
}
