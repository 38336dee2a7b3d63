# Arithmetic, math, summaries, indexing and concatenation on tensor handles. Each is one .Call
# into the core.
#
# Arithmetic uses S4 methods on the primitives (`+`, `-`, ...) rather than the S3 Ops group:
# handles carry the S4 bit (for `%*%`), and for such objects R tries S4 dispatch before S3, so
# an exact S4 method is the fastest path (about 1 us against 4 us through Ops). The S3 Ops
# method still catches everything else (comparisons, logic, %%) with a clear error.

#' Arithmetic and math on tensor handles
#'
#' `+ - * / ^`, unary minus, the Math group (`exp`, `log`, `log2`, `log10`, `sqrt`, `abs`,
#' `log1p`, `expm1`, `tanh`, `sin`, `cos`, `lgamma`, `digamma`, `cumsum`), `sum`, `max`,
#' `min`, `mean`, `t`, `[`, `c`, `cbind`, `rbind` and `%*%` work on tensor handles and on
#' mixes of handles and numerics. Numerics enter the tape as constants without being copied.
#'
#' Shapes broadcast when one side has length 1, both have the same shape, or their dims agree
#' after aligning them from the left (outer plates first, as R recycles down columns) where a
#' dim of 1 or a missing trailing dim expands: a length-2 vector with a 2 x 5 matrix, or a
#' 1 x 5 row with it. Anything else is an error (never R's silent partial recycling). Comparisons and logical operators are
#' errors: a handle's value is not known to R code while it is being recorded.
#'
#' Indexing takes R's forms: positive, negative (exclusion) and logical indices, `x[i]`,
#' `x[i, ]`, `x[, j]`, `x[i, j]`, a two-column matrix of (row, column) positions, and tensor
#' handles holding positions (for indices that are themselves recorded). An index out of range
#' is an error rather than `NA`. Sub-assignment (`x[i] <- v`) is not supported: build the
#' result with `c()`, `cbind()` or arithmetic instead.
#'
#' Row and column sums and means, matrix cross products and the numerically stable functions
#' have their own pages: [row_sums()], [cross_prod()], [softplus()], [logsumexp()].
#'
#' `log(x, base)` takes a numeric base.
#'
#' @param e1,e2,x,i,j,... Tensor handles or numerics.
#' @param drop Drop dimensions of extent 1 after indexing (as in base R).
#' @param na.rm Ignored (missing values never enter a tape).
#' @param deparse.level Ignored.
#' @return A tensor handle.
#' @name tensor-ops
#' @aliases +,svi_tensor,ANY-method +,ANY,svi_tensor-method +,svi_tensor,svi_tensor-method
#'   +,svi_tensor,missing-method -,svi_tensor,ANY-method -,ANY,svi_tensor-method
#'   -,svi_tensor,svi_tensor-method -,svi_tensor,missing-method *,svi_tensor,ANY-method
#'   *,ANY,svi_tensor-method *,svi_tensor,svi_tensor-method /,svi_tensor,ANY-method
#'   /,ANY,svi_tensor-method /,svi_tensor,svi_tensor-method ^,svi_tensor,ANY-method
#'   ^,ANY,svi_tensor-method ^,svi_tensor,svi_tensor-method c,svi_constant-method
#'   svi_constant-class %*%,svi_tensor,ANY-method %*%,ANY,svi_tensor-method
#'   %*%,svi_tensor,svi_tensor-method c,svi_tensor-method exp,svi_tensor-method
#'   log,svi_tensor-method sqrt,svi_tensor-method abs,svi_tensor-method
#'   log1p,svi_tensor-method expm1,svi_tensor-method tanh,svi_tensor-method
#'   sin,svi_tensor-method cos,svi_tensor-method lgamma,svi_tensor-method
#'   digamma,svi_tensor-method cumsum,svi_tensor-method sum,svi_tensor-method
#'   [,svi_tensor-method
#' @exportMethod + - * / ^ c %*% exp log sqrt abs log1p expm1 tanh sin cos lgamma digamma
#' @exportMethod cumsum sum [
#' @importFrom methods callNextMethod setClassUnion
#' @examples
#' value_and_grad(function(x) sum(exp(x) / 2 + x[2]^3), c(0, 1))
#' value_and_grad(function(x) sum(x[-1, ] * c(1, 2, 3)[2]), matrix(1:6 / 10, 2))
#' value_and_grad(function(x) sum(cbind(1, x, x^2) %*% c(1, 2, 3)), c(0.5, 2))
NULL

arith_method <- function(op) {
  force(op)
  function(e1, e2) .Call(`_svi_cpp_tensor_ops`, op, e1, e2)
}
unary_method <- function(op) {
  force(op)
  function(e1, e2) .Call(`_svi_cpp_tensor_ops`, op, e1, NULL)
}
local({
  for (op in c("+", "-", "*", "/", "^")) {
    f <- arith_method(op)
    setMethod(op, signature("svi_tensor", "ANY"), f)
    setMethod(op, signature("ANY", "svi_tensor"), f)
    setMethod(op, signature("svi_tensor", "svi_tensor"), f)
  }
  setMethod("+", signature("svi_tensor", "missing"), unary_method("+"))
  setMethod("-", signature("svi_tensor", "missing"), unary_method("-"))
})

#' @rdname tensor-ops
#' @export
Ops.svi_tensor <- function(e1, e2) {
  if (nargs() == 1L) .Call(`_svi_cpp_tensor_ops`, .Generic, e1, NULL)
  else .Call(`_svi_cpp_tensor_ops`, .Generic, e1, e2)
}

# The common Math functions get S4 methods too, for the same reason as arithmetic: with the S4
# bit set, an exact S4 method is the fastest dispatch. Math.svi_tensor handles the rest.
math_method <- function(fn) {
  force(fn)
  function(x) tensor_math(fn, x)
}

# An elementwise function on a handle; a NaN made from a non-NaN input (log(-1), sqrt(-1) ...)
# gives R's warning rather than passing silently into the loss.
tensor_math <- function(fn, x) {
  r <- .Call(`_svi_cpp_tensor_math`, fn, x)
  at <- attr(r, "svi_nan")
  if (is.null(at)) return(r)
  attr(r, "svi_nan") <- NULL
  n <- length(r)
  cli::cli_warn(c(
    "NaNs produced by {.fn {fn}} on a tensor handle{if (n > 1) paste0(' (first at position ', at, ')') else ''}.",
    i = "Its argument is outside the function's domain there; the loss and gradient will be NaN."
  ), call = NULL)
  r
}
local({
  for (fn in c("exp", "sqrt", "abs", "log1p", "expm1", "tanh", "sin", "cos", "lgamma", "digamma", "cumsum")) {
    setMethod(fn, "svi_tensor", math_method(fn))
  }
})
setMethod("log", "svi_tensor", function(x, ...) {
  if (...length() > 0L) tensor_math("log", x) / log(..1)
  else tensor_math("log", x)
})
setMethod("sum", "svi_tensor", function(x, ..., na.rm = FALSE) {
  if (...length() == 0L) .Call(`_svi_cpp_tensor_reduce`, x, "sum", 0L)
  else Summary.svi_tensor(x, ..., na.rm = na.rm)
})

#' @rdname tensor-ops
#' @export
Math.svi_tensor <- function(x, ...) {
  switch(.Generic,
    log = if (...length() > 0L) tensor_math("log", x) / log(..1) else tensor_math("log", x),
    log2 = tensor_math("log", x) / log(2),
    log10 = tensor_math("log", x) / log(10),
    tensor_math(.Generic, x)
  )
}

#' @rdname tensor-ops
#' @export
Summary.svi_tensor <- function(..., na.rm = FALSE) {
  kind <- if (exists(".Generic", inherits = FALSE)) .Generic else "sum"  # "sum" from its S4 method
  if (...length() == 1L && (kind == "sum" || kind == "max" || kind == "min")) {
    return(.Call(`_svi_cpp_tensor_reduce`, ..1, kind, 0L))
  }
  if (!kind %in% c("sum", "max", "min")) {
    cli::cli_abort(c(
      "{.fn {kind}} is not supported on tensor handles.",
      i = "Only {.fn sum}, {.fn max} and {.fn min} have gradients."
    ))
  }
  parts <- lapply(list(...), function(a) {
    if (is_tensor(a)) .Call(`_svi_cpp_tensor_reduce`, a, kind, 0L) else get(kind)(a)
  })
  if (kind == "sum") return(Reduce(`+`, parts))
  .Call(`_svi_cpp_tensor_reduce`, do.call(c, parts), kind, 0L)
}

#' @rdname tensor-ops
#' @export
t.svi_tensor <- function(x) .Call(`_svi_cpp_tensor_t`, x)

#' @rdname tensor-ops
#' @export
mean.svi_tensor <- function(x, ...) .Call(`_svi_cpp_tensor_reduce`, x, "mean", 0L)

#' @rdname tensor-ops
#' @export
c.svi_tensor <- function(...) .Call(`_svi_cpp_tensor_concat`, list(...))

# c(1, x): the first argument is not a handle, so S3 dispatch never sees one. R tries S4
# dispatch when any argument has the S4 bit, which handles do; this method takes it from there
# and hands everything else back to the default. (Methods for "numeric" itself are sealed, so
# the signature is a union of the basic classes a constant can have.)
setClassUnion("svi_constant", c("numeric", "logical"))
setMethod("c", "svi_tensor", function(x, ...) .Call(`_svi_cpp_tensor_concat`, list(x, ...)))
setMethod("c", "svi_constant", function(x, ...) {
  for (a in list(...)) if (inherits(a, "svi_tensor")) return(.Call(`_svi_cpp_tensor_concat`, list(x, ...)))
  callNextMethod()
})

#' @rdname tensor-ops
#' @export
`[.svi_tensor` <- function(x, i, j, ..., drop = TRUE) {
  if (nargs() == 2L && !missing(i) && is.null(dim(i))) {  # x[i], the hot path
    return(.Call(`_svi_cpp_tensor_gather`, x, i, 0L))
  }
  if (nargs() - (!missing(drop)) < 3L) {  # x[i]
    if (missing(i)) return(x)
    if (is.matrix(i) && ncol(i) == 2L && length(dim(x)) == 2L) i <- matrix_index(i, dim(x))
    return(.Call(`_svi_cpp_tensor_gather`, x, i, 0L))
  }
  nd <- length(dim(x))
  if (nd != 2L) {
    what <- if (nd == 0L) "a vector" else paste0("an array with ", nd, " dimensions")
    cli::cli_abort(c(
      "{.code x[i, j]} needs a matrix; this tensor is {what}.",
      i = if (nd == 0L) "Use {.code x[i]} for a vector."
    ))
  }
  out <- x
  if (!missing(i)) out <- .Call(`_svi_cpp_tensor_gather`, out, i, 1L)
  if (!missing(j)) out <- .Call(`_svi_cpp_tensor_gather`, out, j, 2L)
  if (isTRUE(drop)) {
    dd <- dim(out)
    if (any(dd == 1L)) dim(out) <- if (sum(dd != 1L) >= 2L) dd[dd != 1L] else NULL
  }
  out
}

# Also an exact S4 method: for objects with the S4 bit, R looks for one before the S3 method,
# and a failed look-up costs more than the indexing itself.
setMethod("[", "svi_tensor", `[.svi_tensor`)

# A two-column matrix of (row, column) positions -> linear positions, as base R does.
matrix_index <- function(i, d) {
  if (!is.numeric(i) || anyNA(i) || any(i < 1) || any(i[, 1L] > d[1L]) || any(i[, 2L] > d[2L])) {
    cli::cli_abort("A matrix index must hold (row, column) positions within the {d[1L]} x {d[2L]} matrix.")
  }
  (i[, 2L] - 1) * d[1L] + i[, 1L]
}

#' @rdname tensor-ops
#' @export
cbind.svi_tensor <- function(..., deparse.level = 1) bind_columns(list(...), "cbind")

#' @rdname tensor-ops
#' @export
rbind.svi_tensor <- function(..., deparse.level = 1) {
  parts <- lapply(list(...), function(p) if (is.null(dim(p))) p else t(p))  # vectors stay rows
  t(bind_columns(parts, "rbind"))
}

# cbind() of vectors (as columns) and matrices with the same number of rows: in column-major
# order that is concatenation followed by a reshape. Length-1 parts broadcast, as in
# arithmetic (cbind(1, x) for an intercept); other lengths must match exactly.
bind_columns <- function(parts, what) {
  parts <- parts[!vapply(parts, is.null, NA)]
  rows <- vapply(parts, function(p) { d <- dim(p); if (is.null(d)) length(p) else d[1L] }, 1)
  nd <- vapply(parts, function(p) length(dim(p)), 1L)
  if (any(nd > 2L)) cli::cli_abort("{.fn {what}} takes vectors and matrices, not arrays.")
  scalar <- nd == 0L & rows == 1
  if (any(scalar) && !all(scalar)) {
    n <- max(rows[!scalar])
    parts[scalar] <- lapply(parts[scalar], function(p) p * rep(1, n))
    rows[scalar] <- n
  }
  if (length(unique(rows)) > 1L) {
    unit <- if (what == "cbind") "rows" else "columns"
    cli::cli_abort(c(
      "{.fn {what}} on tensor handles needs parts with the same number of {unit}.",
      x = "They have {rows} {unit}.",
      i = "svi does not recycle."
    ))
  }
  out <- do.call(c, parts)
  dim(out) <- c(rows[1L], length(out) %/% rows[1L])
  out
}
