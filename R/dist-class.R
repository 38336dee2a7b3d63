# The distribution object and the generics every distribution shares.
#
# A distribution is a list of its parameters (numerics or tensor handles, in the order the
# core expects them) with class c("svi_dist_<name>", "svi_dist") and a few attributes:
# the core family ("normal", "bernoulli_logit", ...), its event dim and whether draws are
# reparameterized. Per-distribution facts (mean, variance, support) are S3 methods.

new_dist <- function(name, params, family = name, event_dim = 0L, rsample = TRUE) {
  .Call(`_svi_cpp_dist_new`, params, name, family, as.integer(event_dim), rsample)
}

dist_name <- function(d) attr(d, "svi_name")
dist_family <- function(d) attr(d, "svi_family")
dist_params <- function(d) {
  p <- unclass(d)
  attributes(p) <- list(names = names(p))
  p
}

# ---- parameter checks at construction -------------------------------------------------

param_rule_text <- c(
  real = "must be finite", positive = "must be positive", nonneg = "must be non-negative",
  prob = "must be between 0 and 1", prob_open0 = "must be greater than 0 and at most 1",
  count = "must be a non-negative whole number", any = ""
)
param_ok <- function(x, rule) {
  switch(rule,
    real = is.finite(x),
    positive = x > 0 & is.finite(x),
    nonneg = x >= 0 & is.finite(x),
    prob = x >= 0 & x <= 1,
    prob_open0 = x > 0 & x <= 1,
    count = x >= 0 & is.finite(x) & x == round(x),
    rep(TRUE, length(x))
  )
}

# Checks one parameter: handles pass (their values are not known yet), numerics must be
# non-empty, free of NA and satisfy `rule`. Returns the parameter as doubles.
check_param <- function(x, arg, dist, rule = "real", call = parent.frame()) {
  if (.Call(`_svi_cpp_param_ok`, x, rule)) return(x)   # handles, and valid doubles
  fn <- paste0("dist_", dist)
  if (!is.numeric(x) && !is.logical(x)) {
    cli::cli_abort("{.arg {arg}} of {.fn {fn}} must be numeric or a tensor handle, not {.obj_type_friendly {x}}.",
                   call = call)
  }
  if (!length(x)) cli::cli_abort("{.arg {arg}} of {.fn {fn}} must not be empty.", call = call)
  if (anyNA(x)) cli::cli_abort("{.arg {arg}} of {.fn {fn}} must not contain {.code NA} or {.code NaN}.", call = call)
  ok <- param_ok(x, rule)
  if (!all(ok)) {
    bad <- which(!ok)[1]
    where <- if (length(x) > 1L) paste0(" (element ", bad, " is ", format(as.vector(x)[bad]), ")") else
      paste0(" (got ", format(as.vector(x)), ")")
    text <- param_rule_text[[rule]]
    cli::cli_abort("{.arg {arg}} of {.fn {fn}} {text}{where}.", call = call)
  }
  storage.mode(x) <- "double"
  x
}

# What a constructor's distributions are made of, fixed when the package is built: the name,
# the parameters' rules (see param_ok()), the core family, the event dim, whether draws are
# reparameterized, and the class. (Precomputed so that a construction is one short call.)
dist_spec <- function(name, rules, family = name, event_dim = 0L, rsample = TRUE) {
  list(name = name, rules = rules, family = family, event_dim = as.integer(event_dim),
       rsample = rsample, class = c(paste0("svi_dist_", name), "svi_dist"))
}

# A constructor builds its distribution with one C++ call,
#   p <- list(...); d <- .Call(`_svi_cpp_dist_make`, p, spec_<name>)
# which returns NULL unless every parameter passes its rule and they broadcast; then
# make_dist() runs the R checks that explain the problem (naming the parameter and the
# constructor) and builds it. (Inlined in each constructor: a model builds a distribution per
# site per step, and one more R call per construction is measurable on small models.)
make_dist <- function(spec, params, call = parent.frame()) {
  name <- spec$name
  nms <- names(params)
  for (k in seq_along(params)) {
    params[[k]] <- check_param(params[[k]], nms[k], name, spec$rules[[k]], call = call)
  }
  new_dist(name, broadcast_params(params, name, call = call), spec$family, spec$event_dim, spec$rsample)
}

shape_of <- function(x) {
  d <- dim(x)
  if (is.null(d)) length(x) else as.integer(d)
}
shape_text <- function(x) {
  d <- dim(x)
  if (is.null(d)) paste("length", length(x)) else paste("dim", paste(d, collapse = " x "))
}

# The dims two shapes broadcast to (shape.hpp's rule), NULL when they do not: length 1 or equal
# lengths with a plain vector combine; otherwise dims align from the left and a dim of 1 or a
# missing trailing dim expands. Never partial recycling.
broadcast_dims <- function(a, b) {
  if (prod(a) == 1) return(b)
  if (prod(b) == 1) return(a)
  if (identical(as.integer(a), as.integer(b))) return(a)
  if (prod(a) == prod(b) && (length(a) == 1L || length(b) == 1L)) return(if (length(a) == 1L) b else a)
  n <- max(length(a), length(b))
  a <- c(a, rep(1L, n - length(a)))
  b <- c(b, rep(1L, n - length(b)))
  if (any(a != b & a != 1L & b != 1L)) return(NULL)
  pmax(a, b)
}

# The elementwise parameters, checked to broadcast to one batch shape (see broadcast_dims()).
broadcast_params <- function(params, dist, call = parent.frame()) {
  if (.Call(`_svi_cpp_params_broadcast_ok`, params)) return(params)
  lens <- vapply(params, length, 1)
  big <- which(lens != 1)
  if (length(big) > 1L) {
    acc <- shape_of(params[[big[1]]])
    for (k in big[-1]) {
      acc <- broadcast_dims(acc, shape_of(params[[k]]))
      if (is.null(acc)) {
        nm <- names(params)
        cli::cli_abort(c(
          "Parameters of {.fn {paste0('dist_', dist)}} have incompatible shapes.",
          x = "{.arg {nm[big[1]]}} has {shape_text(params[[big[1]]])} but {.arg {nm[k]}} has {shape_text(params[[k]])}.",
          i = "Parameters broadcast when dims are equal or 1 (dims align from the left; missing trailing dims expand); svi never recycles."
        ), call = call)
      }
    }
  }
  params
}

# ---- exported generics ---------------------------------------------------------------

#' Log-density of a value under a distribution
#'
#' `log_prob(d, x)` evaluates the log-density (or log-mass) of `x` under `d`, elementwise
#' over the batch: the result has the distribution's batch shape (multivariate
#' distributions reduce their event dimension). Values outside the support give `-Inf`.
#' Inside a model or guide (or [value_and_grad()]), parameters and values may be tensor
#' handles and the result is a handle; otherwise it is a plain numeric.
#'
#' @param d A distribution, e.g. [dist_normal()].
#' @param x A value: numeric (or a tensor handle) broadcastable against the batch.
#' @return The log-density, with the batch shape.
#' @examples
#' log_prob(dist_normal(0, 1), 0.5)   # same as dnorm(0.5, log = TRUE)
#' log_prob(dist_poisson(c(1, 2, 3)), c(0, 1, 2))
#' value_and_grad(function(sd) log_prob(dist_normal(0, sd), 1.5), 2)
#' @export
log_prob <- function(d, x) {
  check_dist(d)
  dist_log_prob(d, x)
}

#' Draw from a distribution
#'
#' Draws use R's random number generator, so [set.seed()] reproduces them.
#'
#' @param d A distribution.
#' @param n `NULL` for one draw with the distribution's batch (and event) shape, or a count
#'   for `n` draws stacked along a new leading dimension.
#' @return A numeric vector or array (a tensor handle when a parameter is one; the draw is
#'   then differentiable when [has_rsample()] is `TRUE`).
#' @examples
#' set.seed(1)
#' dist_sample(dist_normal(0, 1))
#' dist_sample(dist_gamma(2, 1), n = 5)
#' dim(dist_sample(dist_normal(c(0, 10), 1), n = 3))
#' @export
dist_sample <- function(d, n = NULL) {
  check_dist(d)
  if (is.null(n)) {
    reps <- 0L
  } else {
    reps <- check_count(n, "n")
  }
  dist_draw_impl(d, reps, record = FALSE)
}

#' Does a distribution have reparameterized draws?
#'
#' `TRUE` when draws are differentiable functions of the parameters (pathwise gradients):
#' every continuous distribution here, unless wrapped in [nonreparameterized()]. Discrete
#' distributions are never reparameterized; inference uses score-function gradients for them.
#'
#' @param d A distribution.
#' @return `TRUE` or `FALSE`.
#' @examples
#' has_rsample(dist_gamma(2, 1))
#' has_rsample(nonreparameterized(dist_gamma(2, 1)))
#' has_rsample(dist_poisson(3))
#' @export
has_rsample <- function(d) {
  check_dist(d)
  isTRUE(attr(d, "svi_rsample"))
}

#' Mark a distribution to use score-function gradients
#'
#' Returns the same distribution whose draws carry no gradient, so inference treats its
#' sites with the score-function (REINFORCE) estimator, as Pyro's
#' `has_rsample_(False)` does.
#'
#' @param d A distribution.
#' @return The distribution, with [has_rsample()] `FALSE`.
#' @examples
#' d <- nonreparameterized(dist_normal(0, 1))
#' has_rsample(d)
#' d
#' @export
nonreparameterized <- function(d) {
  check_dist(d)
  attr(d, "svi_rsample") <- FALSE
  d
}

#' Support, mean and variance of a distribution
#'
#' `support()` returns the constraint object describing where the distribution puts mass
#' (e.g. [constraint_positive()] for a gamma). `mean()` and `dist_variance()` give the
#' moments with the batch (and event) shape; `NaN` where they do not exist (Cauchy) and
#' `Inf` where they are infinite.
#'
#' @param d,x A distribution.
#' @param ... Unused.
#' @return `support()`: a constraint. `mean()`, `dist_variance()`: numeric (or a tensor
#'   handle when parameters are handles).
#' @examples
#' support(dist_beta(2, 3))
#' mean(dist_gamma(shape = 2, rate = 4))
#' dist_variance(dist_poisson(c(1, 5)))
#' @export
support <- function(d) {
  check_dist(d)
  UseMethod("support")
}

#' @rdname support
#' @export
dist_variance <- function(d) {
  check_dist(d)
  UseMethod("dist_variance")
}

#' @rdname support
#' @export
mean.svi_dist <- function(x, ...) dist_mean(x)

dist_mean <- function(d) UseMethod("dist_mean")

#' @export
format.svi_dist <- function(x, ...) {
  p <- dist_params(x)
  parts <- vapply(names(p), function(nm) paste(nm, "=", format_param(p[[nm]])), "")
  paste0("dist_", dist_name(x), "(", paste(parts, collapse = ", "), ")")
}

format_param <- function(v) {
  if (is_tensor(v)) {
    if (!.Call(`_svi_cpp_tensor_is_live`, v)) return("<tensor: stale>")
    d <- dim(v)
    return(paste0("<tensor [", if (is.null(d)) length(v) else paste(d, collapse = " x "), "]>"))
  }
  if (length(v) == 1L && is.null(dim(v))) return(format(v, digits = 4))
  if (length(v) <= 4L && is.null(dim(v))) return(paste0("c(", paste(format(v, digits = 4), collapse = ", "), ")"))
  d <- dim(v)
  paste0("<dbl [", if (is.null(d)) length(v) else paste(d, collapse = " x "), "]>")
}

#' @export
print.svi_dist <- function(x, ...) {
  cat("<svi distribution> ", format(x), "\n", sep = "")
  bs <- tryCatch(dist_batch_shape(x), error = function(e) NULL)
  notes <- c(
    if (length(bs)) paste0("batch shape [", paste(bs, collapse = ", "), "]"),
    if (dist_event_dim(x) > 0L) paste0("event dim ", dist_event_dim(x)),
    if (!has_rsample(x)) "draws not reparameterized (score-function gradients)"
  )
  if (length(notes)) cat("  ", paste(notes, collapse = "; "), "\n", sep = "")
  invisible(x)
}

# ---- internal API used by the inference code ------------------------------------------

check_dist <- function(d, arg = "d", call = parent.frame(2)) {
  if (!inherits(d, "svi_dist")) {
    cli::cli_abort("{.arg {arg}} must be a distribution such as {.fn dist_normal}, not {.obj_type_friendly {d}}.",
                   call = call)
  }
}

#' Log-density: a tensor handle when anything is a handle, else numeric.
#' @noRd
dist_log_prob <- function(d, x) UseMethod("dist_log_prob")

#' @export
dist_log_prob.svi_dist <- function(d, x) {
  .Call(`_svi_cpp_dist_log_prob`, attr(d, "svi_family"), x, d)
}

#' One draw of the batch + event shape: on the recording tape (as a handle; reparameterized
#' when has_rsample(d), else without gradient) while one is recording, else numeric.
#' @noRd
dist_draw <- function(d) {
  # dist_draw_impl() without the dispatch: every site's draw comes here
  family <- attr(d, "svi_family")
  if (identical(family, "delta")) d <- delta_draw_params(d)
  .Call(`_svi_cpp_dist_sample`, family, d, 0L, isTRUE(attr(d, "svi_rsample")),
        .Call(`_svi_cpp_tape_recording`))
}

dist_draw_impl <- function(d, reps, record) UseMethod("dist_draw_impl")

#' @export
dist_draw_impl.svi_dist <- function(d, reps, record) {
  .Call(`_svi_cpp_dist_sample`, attr(d, "svi_family"), d, reps,
        isTRUE(attr(d, "svi_rsample")), record)
}

#' Batch shape: integer dims, integer(0) for a scalar batch.
#' @noRd
dist_batch_shape <- function(d) UseMethod("dist_batch_shape")

#' @export
dist_batch_shape.svi_dist <- function(d) {
  for (v in d) {
    s <- .Call(`_svi_cpp_value_shape`, v)   # doubles and handles without an R dispatch
    if (is.null(s)) s <- shape_of(v)
    if (prod(s) != 1) return(s)
  }
  integer(0)
}

#' Number of trailing event dims (0 for univariate, 1 for dirichlet/mvnormal/categorical's
#' parameters).
#' @noRd
dist_event_dim <- function(d) {
  e <- attr(d, "svi_event_dim")
  if (is.null(e)) 0L else e
}

#' The distribution with its batch expanded to `shape` (a scalar batch only): every
#' batch parameter broadcast to that shape (event dims kept last).
#' @noRd
dist_expand <- function(d, shape) UseMethod("dist_expand")

#' @export
dist_expand.svi_dist <- function(d, shape) {
  shape <- as.integer(shape)
  bs <- dist_batch_shape(d)
  if (identical(bs, shape)) return(d)
  if (length(bs) && prod(bs) != 1) {
    cli::cli_abort("Cannot expand a distribution with batch shape [{paste(bs, collapse = ', ')}] to [{paste(shape, collapse = ', ')}].")
  }
  zero <- if (length(shape) > 1L) array(0, shape) else numeric(shape)
  for (nm in names(dist_params(d))) d[[nm]] <- d[[nm]] + zero
  d
}
