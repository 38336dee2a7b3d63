# Constraints: where a parameter or a distribution's values live, and the bijections between
# that set and unconstrained space (pyro-semantics §8). A constraint is a list of class
# c("svi_constraint_<name>", "svi_constraint") with the core's transform kind and bounds.

new_constraint <- function(name, kind, lower = 0, upper = 0, event_dim = 0L, label = name) {
  structure(
    list(kind = as.integer(kind), lower = lower, upper = upper, event_dim = as.integer(event_dim),
         label = label),
    class = c(paste0("svi_constraint_", name), "svi_constraint")
  )
}

# transform kinds of the core (svi::transform::Kind)
tk <- list(real = 0L, positive = 1L, greater_than = 2L, less_than = 3L, unit_interval = 4L,
           interval = 5L, softmax = 6L, stick_breaking = 7L, lower_cholesky = 8L,
           positive_definite = 9L, ordered = 10L, softplus_positive = 11L,
           unit_lower_cholesky = 12L)
tk$corr_cholesky <- 13L

# The constraints without arguments, built once when the package is built: param() and
# support() ask for them on every step.
fixed_constraints <- list(
  real = new_constraint("real", tk$real),
  positive = new_constraint("positive", tk$positive),
  unit_interval = new_constraint("unit_interval", tk$unit_interval, 0, 1),
  simplex = new_constraint("simplex", tk$stick_breaking, event_dim = 1L),
  lower_cholesky = new_constraint("lower_cholesky", tk$lower_cholesky, event_dim = 2L),
  positive_definite = new_constraint("positive_definite", tk$positive_definite, event_dim = 2L),
  ordered = new_constraint("ordered", tk$ordered, event_dim = 1L),
  softplus_positive = new_constraint("softplus_positive", tk$softplus_positive),
  unit_lower_cholesky = new_constraint("unit_lower_cholesky", tk$unit_lower_cholesky, event_dim = 2L)
)
fixed_constraints$corr_cholesky <- new_constraint("corr_cholesky", tk$corr_cholesky, event_dim = 2L)

#' Constraints and their transforms
#'
#' Constraints say where a value lives: `param("s", 1, constraint = constraint_positive())`
#' keeps a parameter positive by optimizing an unconstrained value and mapping it through a
#' bijection, and [support()] of a distribution is a constraint.
#'
#' | constraint | unconstrained `x` to constrained `y` |
#' |---|---|
#' | `constraint_real()` | `y = x` |
#' | `constraint_positive()` | `y = exp(x)` |
#' | `constraint_greater_than(lower)` | `y = lower + exp(x)` |
#' | `constraint_less_than(upper)` | `y = upper - exp(x)` |
#' | `constraint_unit_interval()` | `y = plogis(x)` |
#' | `constraint_interval(lower, upper)` | `y = lower + (upper - lower) * plogis(x)` |
#' | `constraint_simplex()` | stick-breaking: `K - 1` free coordinates to a point of the `K`-simplex |
#' | `constraint_lower_cholesky()` | strict lower triangle of `x`, diagonal `exp(diag(x))` |
#' | `constraint_positive_definite()` | `L %*% t(L)` with `L` the lower-Cholesky map of `x` |
#' | `constraint_ordered()` | `y[1] = x[1]`, `y[k] = y[k - 1] + exp(x[k])` |
#' | `constraint_softplus_positive()` | `y = log(1 + exp(x))` |
#' | `constraint_unit_lower_cholesky()` | strict lower triangle of `x`, unit diagonal |
#' | `constraint_corr_cholesky()` | `tanh` of the strict lower triangle of `x`, each row completed by a signed stick-breaking to unit norm: the Cholesky factor of a correlation matrix (`dist_lkj_cholesky()`'s support) |
#'
#' The last two are the parameterizations Pyro's autoguides use for scales and for
#' correlation factors.
#'
#' `constraint_forward(c, x)` maps unconstrained to constrained, `constraint_inverse(c, y)`
#' maps back, and `constraint_log_det_jacobian(c, x)` is `log |det dy/dx|` of the forward map
#' (elementwise for elementwise constraints, one number per row for simplex and ordered, one
#' for a matrix). Vector constraints act along the last dimension. All of them work on
#' numerics and on tensor handles (differentiably). `constraint_check(c, y)` tells whether
#' `y` lies in the constraint.
#'
#' Parameters with a simplex constraint are stored, as in Pyro's parameter store, as
#' `K` unconstrained values mapped by softmax; the exported transforms use the
#' stick-breaking bijection.
#'
#' @param lower,upper Bounds (numbers, or numeric vectors matching the value).
#' @param event_dim Number of trailing dimensions forming one event (`constraint_real()`
#'   only: 1 for real vectors such as a multivariate normal's values).
#' @param c A constraint.
#' @param x An unconstrained value (numeric or tensor handle).
#' @param y A constrained value (numeric or tensor handle).
#' @return A constraint object; for the transforms, the transformed value.
#' @examples
#' c <- constraint_interval(0, 10)
#' y <- constraint_forward(c, c(-1, 0, 3))
#' y
#' constraint_inverse(c, y)
#' constraint_log_det_jacobian(c, c(-1, 0, 3))
#' s <- constraint_forward(constraint_simplex(), c(0, 0))
#' s
#' constraint_check(constraint_simplex(), s)
#' @name constraints
NULL

#' @rdname constraints
#' @export
constraint_real <- function(event_dim = 0L) {
  if (identical(event_dim, 0L) || identical(event_dim, 0)) return(fixed_constraints$real)
  event_dim <- check_count(event_dim, "event_dim", min = 0, max = 8)
  new_constraint("real", tk$real, event_dim = event_dim)
}

#' @rdname constraints
#' @export
constraint_positive <- function() fixed_constraints$positive

#' @rdname constraints
#' @export
constraint_greater_than <- function(lower) {
  check_bound(lower, "lower", "constraint_greater_than")
  new_constraint("greater_than", tk$greater_than, lower = lower,
                 label = paste0("greater_than(", fmt_bound(lower), ")"))
}

#' @rdname constraints
#' @export
constraint_less_than <- function(upper) {
  check_bound(upper, "upper", "constraint_less_than")
  new_constraint("less_than", tk$less_than, upper = upper,
                 label = paste0("less_than(", fmt_bound(upper), ")"))
}

#' @rdname constraints
#' @export
constraint_unit_interval <- function() fixed_constraints$unit_interval

#' @rdname constraints
#' @export
constraint_interval <- function(lower, upper) {
  check_bound(lower, "lower", "constraint_interval")
  check_bound(upper, "upper", "constraint_interval")
  if (length(lower) != 1L && length(upper) != 1L && length(lower) != length(upper)) {
    cli::cli_abort("{.arg lower} and {.arg upper} of {.fn constraint_interval} must have the same length (or length 1).")
  }
  if (any(upper <= lower)) {
    cli::cli_abort("{.arg upper} of {.fn constraint_interval} must be greater than {.arg lower}.")
  }
  new_constraint("interval", tk$interval, lower, upper,
                 label = paste0("interval(", fmt_bound(lower), ", ", fmt_bound(upper), ")"))
}

#' @rdname constraints
#' @export
constraint_simplex <- function() fixed_constraints$simplex

#' @rdname constraints
#' @export
constraint_lower_cholesky <- function() fixed_constraints$lower_cholesky

#' @rdname constraints
#' @export
constraint_positive_definite <- function() fixed_constraints$positive_definite

#' @rdname constraints
#' @export
constraint_ordered <- function() fixed_constraints$ordered

#' @rdname constraints
#' @export
constraint_softplus_positive <- function() fixed_constraints$softplus_positive

#' @rdname constraints
#' @export
constraint_unit_lower_cholesky <- function() fixed_constraints$unit_lower_cholesky

#' @rdname constraints
#' @export
constraint_corr_cholesky <- function() fixed_constraints$corr_cholesky

# Supports of discrete distributions: no transform exists for them.
constraint_discrete <- function(name, lower = 0, upper = Inf) {
  label <- switch(name, integer_interval = paste0("integer_interval(", fmt_bound(lower), ", ", fmt_bound(tensor_value(upper)), ")"), name)
  new_constraint(name, NA_integer_, lower, tensor_value(upper), label = label)
}

check_bound <- function(b, arg, fn, call = parent.frame()) {
  if (!is.numeric(b) || !length(b) || anyNA(b) || any(!is.finite(b))) {
    cli::cli_abort("{.arg {arg}} of {.fn {fn}} must be finite numbers.", call = call)
  }
}
fmt_bound <- function(b) {
  if (length(b) == 1L) format(b, digits = 6) else paste0("<", length(b), " values>")
}

#' @export
format.svi_constraint <- function(x, ...) paste0("<constraint: ", x$label, ">")

#' @export
print.svi_constraint <- function(x, ...) {
  cat(format(x), "\n", sep = "")
  invisible(x)
}

check_constraint <- function(c, call = parent.frame(2)) {
  if (!inherits(c, "svi_constraint")) {
    cli::cli_abort("{.arg c} must be a constraint such as {.fn constraint_positive}, not {.obj_type_friendly {c}}.",
                   call = call)
  }
  if (is.na(c$kind)) {
    cli::cli_abort("The {.val {c$label}} constraint of a discrete distribution has no transform.", call = call)
  }
}

# dir: 0 forward, 1 inverse, 2 log-det. Scalar bounds go to the core op; vector bounds are
# applied around the unit-interval / positive map with ordinary (taped) arithmetic.
transform_apply <- function(c, x, dir) {
  kind <- c$kind
  lo <- c$lower
  hi <- c$upper
  if (kind == tk$interval && (length(lo) > 1L || length(hi) > 1L)) {
    w <- hi - lo
    if (dir == 0L) return(lo + w * .Call(`_svi_cpp_transform`, tk$unit_interval, 0L, x, 0, 1))
    if (dir == 1L) return(.Call(`_svi_cpp_transform`, tk$unit_interval, 1L, (x - lo) / w, 0, 1))
    return(log(w) + .Call(`_svi_cpp_transform`, tk$unit_interval, 2L, x, 0, 1))
  }
  if (kind %in% c(tk$greater_than, tk$less_than) && length(lo) + length(hi) > 2L) {
    b <- if (kind == tk$greater_than) lo else hi
    s <- if (kind == tk$greater_than) 1 else -1
    if (dir == 0L) return(b + s * .Call(`_svi_cpp_transform`, tk$positive, 0L, x, 0, 0))
    if (dir == 1L) return(.Call(`_svi_cpp_transform`, tk$positive, 1L, s * (x - b), 0, 0))
    return(.Call(`_svi_cpp_transform`, tk$positive, 2L, x, 0, 0))
  }
  a <- if (kind == tk$less_than) hi else lo
  .Call(`_svi_cpp_transform`, kind, dir, as_transform_input(x), as.double(a), as.double(hi))
}

as_transform_input <- function(x) {
  if (is_tensor(x)) return(x)
  if (!is.numeric(x) && !is.logical(x)) {
    cli::cli_abort("The value must be numeric or a tensor handle, not {.obj_type_friendly {x}}.", call = NULL)
  }
  storage.mode(x) <- "double"
  x
}

#' @rdname constraints
#' @export
constraint_forward <- function(c, x) {
  check_constraint(c)
  transform_apply(c, x, 0L)
}

elementwise_constraints <- c("real", "positive", "softplus_positive", "greater_than", "less_than",
                             "unit_interval", "interval")

#' @rdname constraints
#' @export
constraint_inverse <- function(c, y) {
  check_constraint(c)
  # outside the support the inverse is NaN or a wrong number (unit_interval of 2): an error.
  # (Elementwise constraints only: the matrix ones read part of `y`, e.g. a lower triangle.)
  if ((is.numeric(y) || is.logical(y)) && !is.object(y) && length(y) &&
      sub("^svi_constraint_", "", class(c)[1]) %in% elementwise_constraints &&
      !isTRUE(constraint_check(c, y))) {
    cli::cli_abort(c(
      "{.arg y} is outside the support of {constraint_name(c)}, so it has no unconstrained value.",
      x = "It is {format_value(y)}."
    ))
  }
  transform_apply(c, y, 1L)
}

#' @rdname constraints
#' @export
constraint_log_det_jacobian <- function(c, x) {
  check_constraint(c)
  transform_apply(c, x, 2L)
}

#' @rdname constraints
#' @export
constraint_check <- function(c, y) {
  if (!inherits(c, "svi_constraint")) {
    cli::cli_abort("{.arg c} must be a constraint such as {.fn constraint_positive}, not {.obj_type_friendly {c}}.")
  }
  y <- tensor_value(y)
  tol <- 1e-6
  name <- sub("^svi_constraint_", "", class(c)[1])
  switch(name,
    real = all(is.finite(y)),
    positive = , softplus_positive = all(y > 0 & is.finite(y)),
    greater_than = all(y > c$lower & is.finite(y)),
    less_than = all(y < c$upper & is.finite(y)),
    unit_interval = all(y >= 0 & y <= 1),
    interval = all(y >= c$lower & y <= c$upper),
    simplex = {
      k <- event_len(y)
      m <- matrix(y, ncol = k)
      all(m >= 0) && all(abs(rowSums(m) - 1) < tol)
    },
    lower_cholesky = is.matrix(y) && nrow(y) == ncol(y) && all(y[upper.tri(y)] == 0) && all(diag(y) > 0),
    unit_lower_cholesky = is.matrix(y) && nrow(y) == ncol(y) && all(y[upper.tri(y)] == 0) && all(diag(y) == 1),
    corr_cholesky = is.matrix(y) && nrow(y) == ncol(y) && all(y[upper.tri(y)] == 0) && all(diag(y) > 0) &&
      all(abs(rowSums(y^2) - 1) < tol),
    positive_definite = is.matrix(y) && nrow(y) == ncol(y) && isSymmetric(unname(y), tol = tol) &&
      !is.null(tryCatch(chol(y), error = function(e) NULL)),
    ordered = {
      k <- event_len(y)
      m <- matrix(y, ncol = k)
      k < 2L || all(m[, -1, drop = FALSE] > m[, -k, drop = FALSE])
    },
    boolean = all(y %in% c(0, 1)),
    nonnegative_integer = all(y >= 0 & y == round(y)),
    integer_interval = all(y >= c$lower & y <= c$upper & y == round(y)),
    FALSE
  )
}

# ---- internal API for the parameter store ---------------------------------------------

#' The constraint's name for messages, e.g. "positive" or "interval(0, 1)".
#' @noRd
constraint_name <- function(c) c$label

#' Constrained numeric -> unconstrained numeric (param() init). Values outside the
#' constraint give NaN or infinite results (the caller reports them). Simplex: log(y), the
#' inverse of the softmax the parameter store uses.
#' @noRd
constraint_to_unconstrained <- function(c, y) {
  if (!constraint_check(c, y)) return(y * NaN)
  if (inherits(c, "svi_constraint_simplex")) return(log(y))
  transform_apply(c, y, 1L)
}

#' Unconstrained (numeric or handle) -> constrained, differentiably. Simplex: softmax along
#' the last dim, as Pyro's parameter store does.
#' @noRd
constraint_from_unconstrained <- function(c, x) {
  kind <- .subset2(c, "kind")   # (`$` on a classed list looks for methods first: slower)
  if (identical(kind, 0L)) return(x)                                     # real
  if (identical(kind, 1L) && (is.double(x) || inherits(x, "svi_tensor"))) {  # positive
    return(.Call(`_svi_cpp_transform`, kind, 0L, x, 0, 0))
  }
  if (inherits(c, "svi_constraint_simplex")) return(.Call(`_svi_cpp_transform`, tk$softmax, 0L, x, 0, 0))
  transform_apply(c, x, 0L)
}
