#' Draws from the fitted guide
#'
#' `posterior_draws()` runs the guide `num_samples` times with the current parameters and
#' collects the values of its latent sample sites: draws from the variational approximation
#' of the posterior. Nothing is recorded for gradients and no parameter changes (a
#' parameter the guide has never created is created from its `init`, as in a step).
#'
#' The result is a named list with one element per site, whose first dimension indexes the
#' draws: a vector for a scalar site, a `num_samples` x `k` matrix for a vector of length
#' `k`, an array for matrix-valued sites. `as.data.frame()` and `as.matrix()` give one column
#' per element (named like `w[2]` or `z[1,3]`), and when the posterior package is installed
#' `posterior::as_draws_df()` converts the draws for posterior and bayesplot.
#'
#' Every run of the guide must give each site the same shape, and plates must not draw
#' random minibatches (the draws of different runs would describe different elements): run
#' a guide that subsamples on the full data, or pass fixed indices with the `subsample`
#' argument of [plate()].
#'
#' @param s An `svi` object, or an `svi_fit` from [svi_run()] (whose parameters at the end
#'   of the run are used, and whose data are reused when `...` is empty).
#' @param ... Arguments passed to the guide.
#' @param num_samples Number of draws, a whole number `>= 1`.
#' @param importance_resample If `TRUE`, the draws are resampled (with replacement) with
#'   their Pareto-smoothed importance weights `p(x, z) / q(z)` (see [svi_diagnose()]), which
#'   corrects a guide that is close to the posterior (k-hat below about 0.7; the k-hat is
#'   kept in attribute `"khat"`, and a warning says when it is above 0.7). Needs the loo
#'   package and full-data plates.
#' @return An object of class `svi_draws`: a named list of numeric arrays with
#'   `num_samples` as first dimension.
#' @seealso [predictive()] for posterior predictive draws from the model.
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
#' y <- rnorm(50, 3)
#' fit <- svi_run(svi(model, guide, adam(lr = 0.05)), y, num_steps = 500, progress = FALSE)
#' draws <- posterior_draws(fit, num_samples = 200)
#' mean(draws$mu)
#' quantile(draws$mu, c(0.05, 0.95))
#' if (requireNamespace("posterior", quietly = TRUE)) posterior::as_draws_df(draws)
#' @export
posterior_draws <- function(s, ..., num_samples = 1000, importance_resample = FALSE) {
  src <- draw_source(s, list(...))
  num_samples <- check_count(num_samples, "num_samples")
  check_flag(importance_resample, "importance_resample")
  if (importance_resample) {
    backend <- psis_backend()
    if (is.null(backend)) cli::cli_abort(psis_missing_message())
    d <- diagnose_from(importance_runs(src, max(num_samples, 10L)), backend)
    if (d$status %in% c("poor", "very_poor")) {
      cli::cli_warn(c("Pareto k-hat is {round(d$khat, 2)}: importance resampling cannot fix this guide.",
                      i = "See {.fn svi_diagnose} for what to do."))
    }
    return(importance_resampled(d, num_samples))
  }
  runs <- guide_runs(src$svi$guide, src$args, src$store, num_samples)
  stack_draws(lapply(runs, latent_values), num_samples, "guide")
}

# Where draws come from: the svi object, the arguments, and the parameter store (an svi
# object's own, or a copy of a fit's parameters at the end of its run).
draw_source <- function(s, args, arg = "s", call = parent.frame()) {
  if (inherits(s, "svi_fit")) {
    if (!length(args)) args <- s$args
    return(list(svi = s$svi, args = args, store = fit_store(s)))
  }
  if (!inherits(s, "svi")) {
    cli::cli_abort(c("{.arg {arg}} must be an svi object from {.fn svi} or a fit from {.fn svi_run}.",
                     x = "It is {.obj_type_friendly {s}}."), call = call)
  }
  list(svi = s, args = args, store = s$store)
}

# Runs `expr` as sites are run outside a step: parameters from `store`, no tape, so every
# value is a plain numeric.
with_plain_ctx <- function(store, expr) {
  old <- .svi$ctx
  ctx <- new_ctx(store, tape = NULL)
  on.exit(.svi$ctx <- old, add = TRUE)   # registered first: no interrupt can fall in between
  .svi$ctx <- ctx
  out <- expr
  .svi$ctx <- old   # also in the body (see "Interrupt safety" in R/handlers.R)
  out
}

guide_runs <- function(guide, args, store, num_samples, call = parent.frame()) {
  runs <- with_plain_ctx(store, lapply(seq_len(num_samples), function(i) run_traced(guide, args)$sites))
  check_not_subsampled(runs[[1]], "guide", call)
  runs
}

# Draws are stacked element by element, which means nothing if a plate picks a new random
# minibatch in every run.
check_not_subsampled <- function(sites, what, call) {
  for (x in sites) {
    if (identical(x$type, "subsample") && !is.null(x$subsample_size) && x$subsample_size < x$size) {
      cli::cli_abort(c(
        "Plate {.val {x$name}} of the {what} subsamples {x$subsample_size} of {x$size} indices.",
        x = "Draws from different runs would describe different elements.",
        i = "Pass the full data (e.g. run the {what} with {.code subsample_size = NULL}) or fixed indices with {.arg subsample}."
      ), call = call)
    }
  }
}

# The latent (unobserved) sample sites of one trace (guide-only auxiliary coordinates are
# no posterior), and their values as plain numerics.
latent_sites <- function(sites) {
  Filter(function(x) identical(x$type, "sample") && !isTRUE(x$is_observed) &&
           !isTRUE(x$infer$is_auxiliary), sites)
}

latent_values <- function(sites) {
  lapply(latent_sites(sites), function(x) named_like_dist(draw_plain_value(x$value), x$fn))
}

# A draw takes the element names of its distribution's parameters when it has none itself
# (so `dist_normal(param("b", init, names = colnames(X)), ...)` gives named draws).
named_like_dist <- function(v, d) {
  if (length(v) < 2L || !is.null(names(v)) || !is.null(dimnames(v))) return(v)
  for (p in unclass(d)) {
    if (!is.numeric(p) || length(p) != length(v)) next
    if (is.null(dim(v)) && !is.null(names(p)) && is.null(dim(p))) {
      names(v) <- names(p)
      return(v)
    }
    if (!is.null(dim(v)) && identical(dim(p), dim(v)) && !is.null(dimnames(p))) {
      dimnames(v) <- dimnames(p)
      return(v)
    }
  }
  v
}

draw_plain_value <- function(v) {
  if (is_tensor(v)) v <- tensor_value(v)
  if (is.logical(v)) storage.mode(v) <- "double"
  v
}

# Stacks per-run named lists of values into one array per site, draws first.
stack_draws <- function(runs, num_samples, what, call = parent.frame()) {
  sites <- unique(unlist(lapply(runs, names)))
  out <- lapply(stats::setNames(sites, sites), function(nm) {
    vals <- lapply(runs, `[[`, nm)
    if (any(vapply(vals, is.null, TRUE))) {
      cli::cli_abort(c(
        "Site {.val {nm}} is missing from some runs of the {what}.",
        i = "Draws need the same sites in every run."
      ), call = call)
    }
    if (!all(vapply(vals, is.numeric, TRUE))) {
      cli::cli_abort("Site {.val {nm}} of the {what} does not have a numeric value.", call = call)
    }
    shape <- draw_value_shape(vals[[1]])
    same <- vapply(vals, function(v) identical(draw_value_shape(v), shape), TRUE)
    if (!all(same)) {
      cli::cli_abort("Site {.val {nm}} has different shapes in different runs of the {what}.",
                     call = call)
    }
    m <- matrix(unlist(vals, use.names = FALSE), nrow = num_samples, byrow = TRUE)
    if (length(shape) > 1L) {
      dim(m) <- c(num_samples, shape)
    } else if (shape == 1L && is.null(dim(vals[[1]]))) {
      m <- as.vector(m)
    }
    m
  })
  labels <- lapply(stats::setNames(sites, sites), function(nm) {
    v <- runs[[1]][[nm]]
    value_element_names(nm, v, draw_value_shape(v))
  })
  structure(out, num_samples = num_samples, labels = labels, class = "svi_draws")
}

draw_value_shape <- function(v) if (is.null(dim(v))) length(v) else dim(v)

# Element names in posterior's convention: "mu", "w[2]", "z[1,3]" (first index fastest).
draw_element_names <- function(name, shape) {
  if (prod(shape) == 1L && length(shape) == 1L) return(name)
  idx <- as.matrix(expand.grid(lapply(shape, seq_len)))
  paste0(name, "[", apply(idx, 1, paste, collapse = ","), "]")
}

draw_shape <- function(x) if (is.null(dim(x))) 1L else dim(x)[-1]

#' @export
as.matrix.svi_draws <- function(x, ...) {
  n <- attr(x, "num_samples")
  cols <- lapply(names(x), function(nm) {
    m <- matrix(x[[nm]], nrow = n)
    labels <- attr(x, "labels")[[nm]]
    colnames(m) <- if (length(labels) == ncol(m)) labels else draw_element_names(nm, draw_shape(x[[nm]]))
    m
  })
  if (!length(cols)) return(matrix(numeric(), nrow = n, ncol = 0))
  do.call(cbind, cols)
}

#' @export
as.data.frame.svi_draws <- function(x, row.names = NULL, optional = FALSE, ...) {
  as.data.frame(as.matrix(x), row.names = row.names, optional = TRUE)
}

#' @export
print.svi_draws <- function(x, ...) {
  n <- attr(x, "num_samples")
  cat("<svi_draws> ", n, " draw", if (n != 1L) "s", " of ", length(x), " site",
      if (length(x) != 1L) "s", "\n", sep = "")
  for (nm in names(x)) {
    shape <- draw_shape(x[[nm]])
    v <- x[[nm]]
    cat("  ", nm, ": ", if (prod(shape) == 1L && length(shape) == 1L) "scalar" else paste0("[", paste(shape, collapse = " x "), "]"),
        ", mean ", paste(format(utils::head(colMeans(matrix(v, nrow = n)), 4), digits = 4), collapse = " "),
        if (prod(shape) > 4) " ...", "\n", sep = "")
  }
  invisible(x)
}

