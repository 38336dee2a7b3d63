# median() and quantile() of a fitted autoguide (autoguides spec section 7 and "What none of
# them has" 1): exact where the support's bijection is elementwise and monotone, from draws of
# the guide otherwise (simplex, Cholesky, ordered and correlation sites), and said so.

#' Medians and quantiles of an autoguide's posterior approximation
#'
#' For an svi object or fit whose guide is an autoguide, `median()` gives each latent site's
#' median under the guide (the unconstrained location mapped to the site's support) and
#' `quantile()` its quantiles. For sites whose support maps elementwise and monotonically
#' (real, positive, bounded), the quantiles are exact: the normal marginal's quantiles mapped
#' through the bijection. For simplex, ordered, Cholesky and correlation sites that mapping is
#' wrong (the anchors do it anyway), so these quantiles are computed from `num_samples` draws
#' of the guide, with a message saying so.
#'
#' The guide's data go by name, since `median()`'s second argument is `na.rm`:
#' `median(s, y = y)`; or as a list, `median(s, args = list(x, y))` (needed for an argument
#' called `x`, which is also the generic's first argument). A fit from [svi_run()] reuses its
#' own data when none are given.
#'
#' @param x An `svi` object or `svi_fit` whose guide is an autoguide.
#' @param na.rm Unused (part of the generic).
#' @param probs Probabilities.
#' @param ... The guide's arguments, by name.
#' @param args The guide's arguments as a list, instead of `...`.
#' @param num_samples Draws used for sites whose quantiles are not exact.
#' @return A named list, one element per latent site: the median with the site's shape, or
#'   for `quantile()` an array whose first dimension indexes `probs`.
#' @examples
#' model <- function(y) {
#'   p <- sample_site("p", dist_beta(1, 1))
#'   plate("data", length(y), function(i) sample_site("obs", dist_bernoulli(p), obs = y))
#' }
#' y <- c(1, 0, 1, 1, 0, 1, 1, 1)
#' set.seed(1)
#' fit <- svi_run(svi(model, auto_normal(model), adam(0.05)), y, num_steps = 500, progress = FALSE)
#' median(fit)
#' quantile(fit, c(0.05, 0.95))
#' @name autoguide-summaries
NULL

autoguide_source <- function(x, args, named = TRUE, call = parent.frame()) {
  if (inherits(x, "svi_fit")) {
    if (!length(args)) {
      args <- x$args
      named <- FALSE
    }
    s <- x$svi
  } else if (inherits(x, "svi")) {
    s <- x
  } else {
    cli::cli_abort("{.arg x} must be an svi object or fit.", call = call)
  }
  g <- s$guide
  if (!inherits(g, "svi_autoguide")) {
    cli::cli_abort(c(
      "{.fn median} and {.fn quantile} need an svi object whose guide is an autoguide.",
      i = "For a hand-written guide, summarise {.fn posterior_draws} instead."
    ), call = call)
  }
  if (!is.list(args)) cli::cli_abort("{.arg args} must be a list of the guide's arguments.", call = call)
  if (named && length(args) && (is.null(names(args)) || any(!nzchar(names(args))))) {
    cli::cli_abort(c(
      "Pass the guide's arguments by name, e.g. {.code median(s, y = y)}.",
      i = "The second argument of {.fn median} is {.arg na.rm}."
    ), call = call)
  }
  autoguide_ensure_built(g, args)
  p <- params(x)
  if (!length(p) && !inherits(g, "svi_autoguide_laplace_mvn")) {
    cli::cli_abort("The guide has no parameters yet: take some steps (or {.fn svi_run}) first.", call = call)
  }
  list(guide = g, params = p, x = x, args = args)
}

# Builds the prototype (of every part of a guide list) if no step has yet.
autoguide_ensure_built <- function(g, args) {
  if (inherits(g, "svi_autoguide_list")) {
    for (part in autoguide_state(g)$parts) if (inherits(part, "svi_autoguide")) autoguide_ensure_built(part, args)
    return(invisible())
  }
  st <- autoguide_state(g)
  if (is.null(st$proto)) autoguide_build(st, args)
  invisible()
}

#' @rdname autoguide-summaries
#' @exportS3Method stats::median svi
median.svi <- function(x, na.rm = FALSE, ..., args = NULL) {
  if (!isFALSE(na.rm) && !isTRUE(na.rm)) {
    cli::cli_abort(c(
      "The second argument of {.fn median} is {.arg na.rm}, not the guide's data.",
      i = "Pass the data by name, {.code median(s, y = y)}, or as {.code median(s, args = list(...))}."
    ))
  }
  src <- autoguide_source(x, if (is.null(args)) list(...) else args, named = is.null(args))
  autoguide_median(src$guide, src$params)
}

#' @rdname autoguide-summaries
#' @exportS3Method stats::median svi_fit
median.svi_fit <- median.svi

autoguide_median <- function(g, p) autoguide_method("median", g)(g, p)

autoguide_median.svi_autoguide <- function(g, p) {
  st <- autoguide_state(g)
  m <- autoguide_marginals(g, p)
  out <- lapply(names(st$proto$sites), function(nm) {
    site <- st$proto$sites[[nm]]
    if (!is.null(m[[nm]]$value)) return(m[[nm]]$value)
    z <- constraint_forward(site$support, unpack_site(site, m[[nm]]$loc))
    z
  })
  stats::setNames(out, names(st$proto$sites))
}

#' @rdname autoguide-summaries
#' @exportS3Method stats::quantile svi
quantile.svi <- function(x, probs = c(0.05, 0.5, 0.95), ..., args = NULL, num_samples = 4000) {
  if (!is.numeric(probs) || !length(probs) || anyNA(probs) || any(probs < 0 | probs > 1)) {
    cli::cli_abort("{.arg probs} must be probabilities between 0 and 1.")
  }
  src <- autoguide_source(x, if (is.null(args)) list(...) else args, named = is.null(args))
  autoguide_quantiles(src, probs, num_samples)
}

#' @rdname autoguide-summaries
#' @exportS3Method stats::quantile svi_fit
quantile.svi_fit <- quantile.svi

autoguide_quantiles <- function(src, probs, num_samples) {
  g <- src$guide
  sites <- autoguide_sites(g)
  m <- autoguide_all_marginals(g, src$params)
  point <- vapply(m, function(x) !is.null(x$value), TRUE)
  if (any(point)) {
    cli::cli_abort(c(
      "{.fn auto_delta} is a point estimate: it has no quantiles (site{?s} {.val {names(m)[point]}}).",
      i = "Fit {.fn auto_normal} or {.fn auto_laplace} for intervals."
    ), call = NULL)
  }
  if (any(vapply(m, function(x) isTRUE(x$mode_only), TRUE))) {
    cli::cli_abort(c(
      "{.fn auto_laplace} is fitted as a point (the mode): it has no quantiles yet.",
      i = "Call {.fn laplace_approximation} on the fit and take the quantiles of its result."
    ), call = NULL)
  }
  by_draws <- names(sites)[!vapply(sites, function(s) s$elementwise, TRUE)]
  draws <- NULL
  if (length(by_draws)) {
    cli::cli_inform(c(i = "Quantiles of {cli::qty(length(by_draws))}site{?s} {.val {by_draws}} are computed from {.val {num_samples}} draws of the guide: {cli::qty(length(by_draws))}{?its/their} bijection is not elementwise, so mapping normal quantiles through it would be wrong."))
    draws <- with_full_plates(do.call(posterior_draws, c(list(src$x), src$args, list(num_samples = num_samples))))
  }
  out <- lapply(names(sites), function(nm) {
    site <- sites[[nm]]
    if (nm %in% by_draws) {
      d <- draws[[nm]]
      n <- num_samples
      q <- apply(matrix(d, nrow = n), 2, stats::quantile, probs = probs, names = FALSE)
      q <- matrix(q, nrow = length(probs))
      dim(q) <- c(length(probs), if (is.null(dim(d))) length(d) / n else dim(d)[-1])   # full plates
      return(q)
    }
    loc <- m[[nm]]$loc
    sc <- m[[nm]]$scale
    decreasing <- inherits(site$support, "svi_constraint_less_than")
    qs <- lapply(probs, function(p) {
      z <- stats::qnorm(if (decreasing) 1 - p else p)
      as.vector(constraint_forward(site$support, loc + sc * z))
    })
    q <- do.call(rbind, qs)
    dim(q) <- c(length(probs), if (length(site$full_shape) > 1L || site$full_shape[1] > 1L) site$full_shape)
    if (length(dim(q)) == 1L) q <- as.vector(q)
    q
  })
  stats::setNames(out, names(sites))
}

# Sites and marginals of a guide or of every part of a guide list.
autoguide_sites <- function(g) {
  if (inherits(g, "svi_autoguide_list")) {
    parts <- Filter(function(p) inherits(p, "svi_autoguide"), autoguide_state(g)$parts)
    return(do.call(c, lapply(parts, autoguide_sites)))
  }
  autoguide_state(g)$proto$sites
}
autoguide_all_marginals <- function(g, p) {
  if (inherits(g, "svi_autoguide_list")) {
    parts <- Filter(function(p) inherits(p, "svi_autoguide"), autoguide_state(g)$parts)
    return(do.call(c, lapply(parts, autoguide_all_marginals, p = p)))
  }
  autoguide_marginals(g, p)
}
