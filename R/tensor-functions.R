# Numerically stable functions that models need and base R lacks (or spells as distribution
# functions). Each works on tensor handles (recorded on the tape) and on plain numerics, with
# the same C++ code in both cases.

#' Numerically stable elementwise functions
#'
#' * `softplus(x)` is `log(1 + exp(x))`;
#' * `log_sigmoid(x)` is `log(1 / (1 + exp(-x)))`, that is `-softplus(-x)`;
#' * `sigmoid(x)` is `1 / (1 + exp(-x))`, the same as [stats::plogis()];
#' * `logit(p)` is `log(p / (1 - p))`, the same as [stats::qlogis()].
#'
#' They are written to stay finite and accurate where the textbook formulas overflow or lose
#' precision: `softplus(800)` is `800`, not `Inf`, and `log_sigmoid(-800)` is `-800`, not
#' `-Inf`. Their gradients are just as stable.
#'
#' On numerics, attributes (dims, names) are kept and `NA` stays `NA`. On tensor handles the
#' result is a handle.
#'
#' @param x A numeric vector, matrix or array, or a tensor handle.
#' @param p Probabilities, or a tensor handle holding them.
#' @return An object like `x`.
#' @export
#' @examples
#' softplus(c(-800, 0, 800))
#' log_sigmoid(c(-800, 0, 800))
#' all.equal(sigmoid(0.3), plogis(0.3))
#' all.equal(logit(0.3), qlogis(0.3))
#' value_and_grad(function(x) sum(softplus(x)), c(-700, 0, 700))
softplus <- function(x) special_fn("softplus", x)

#' @rdname softplus
#' @export
log_sigmoid <- function(x) special_fn("log_sigmoid", x)

#' @rdname softplus
#' @export
sigmoid <- function(x) special_fn("sigmoid", x)

#' @rdname softplus
#' @export
logit <- function(p) special_fn("logit", p, "p")

special_fn <- function(fn, x, arg = "x", call = parent.frame()) {
  if (inherits(x, "svi_tensor")) return(tensor_math(fn, x))
  if (!is.numeric(x) && !is.logical(x)) {
    cli::cli_abort("{.arg {arg}} must be numeric or a tensor handle, not {.obj_type_friendly {x}}.", call = call)
  }
  out <- .Call(`_svi_cpp_special_numeric`, fn, x)
  # as qlogis(): NaN outside [0, 1], with base R's warning
  if (fn == "logit" && any(is.nan(out) & !is.na(x))) {
    warning("NaNs produced", call. = FALSE)
  }
  out
}

#' Log of a sum of exponentials
#'
#' `logsumexp(x)` is `log(sum(exp(x)))`, computed stably by shifting by the largest element, so
#' `logsumexp(c(1000, 1000))` is `1000 + log(2)` rather than `Inf`. With `margin = 1` it is
#' taken over each row, with `margin = 2` over each column (as [apply()] would, but in one
#' step). It works on numerics and on tensor handles; its gradient is the softmax.
#'
#' @param x A numeric vector, matrix or array, or a tensor handle.
#' @param margin `NULL` for all elements, `1` for each row, `2` for each column (of a matrix,
#'   or of an array seen as its first dimension against the rest).
#' @return A number (`margin = NULL`) or a vector: a tensor handle when `x` is one. The log
#'   of an empty sum is `-Inf`.
#' @export
#' @examples
#' logsumexp(c(1000, 1000))
#' m <- matrix(c(1, 2, 3, 4), 2)
#' logsumexp(m, margin = 1)
#' value_and_grad(function(x) logsumexp(x), c(1, 2, 3))$grad  # the softmax
logsumexp <- function(x, margin = NULL) {
  m <- if (is.null(margin)) 0L else margin
  if (!(identical(m, 0L) || identical(m, 1) || identical(m, 2) || identical(m, 1L) || identical(m, 2L))) {
    cli::cli_abort("{.arg margin} must be {.code NULL}, {.code 1} (rows) or {.code 2} (columns).")
  }
  m <- as.integer(m)
  if (inherits(x, "svi_tensor")) return(.Call(`_svi_cpp_tensor_reduce`, x, "logsumexp", m))
  if (!is.numeric(x) && !is.logical(x)) {
    cli::cli_abort("{.arg x} must be numeric or a tensor handle, not {.obj_type_friendly {x}}.")
  }
  out <- .Call(`_svi_cpp_logsumexp_numeric`, x, m)
  dn <- dimnames(x)
  if (m > 0L && length(dn) == 2L && !is.null(dn[[m]])) names(out) <- dn[[m]]
  out
}
