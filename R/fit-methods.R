#' Estimates, predictions and posterior predictive checks from a fit
#'
#' Methods of the usual model generics for an `svi_fit`. All of them draw from the fitted
#' guide (set the seed first for reproducible numbers) with the parameters saved with the
#' fit, and run on the fit's data unless told otherwise.
#'
#' * `coef()`: posterior means of the latent sites' elements (named from the data where the
#'   guide's parameters carry names, see [param()]).
#' * `vcov()`: their covariance under the guide, on the constrained scale. Exact when every
#'   latent site of the guide is a Normal or multivariate Normal whose parameters do not
#'   depend on other sites' draws (the covariance is then block diagonal, one block per
#'   site); otherwise (transformed or other distributions, guides whose later sites depend on
#'   earlier draws) estimated from `num_samples` draws.
#' * `fitted()`: posterior predictive means of the model's observed site for the fit's data;
#'   `predict(fit, newdata)`: the same for new arguments of the model (e.g. new covariates),
#'   through [predictive()].
#' * `pp_check()`: a bayesplot posterior predictive check (`bayesplot::ppc_<type>(y, yrep)`)
#'   of the observed site, with `ndraws` replicated data sets from [predictive()].
#'
#' There is no `logLik()` method: SVI maximises the ELBO, a lower bound on the log marginal
#' likelihood of the model, and has no maximised log-likelihood at a point estimate. The
#' ELBO (minus the loss, or `svi_diagnose(fit)$elbo`) is a bound of unknown slack, so AIC,
#' BIC or likelihood-ratio tests built on it would be wrong; compare models with held-out
#' predictive performance instead.
#'
#' @param object An `svi_fit` from [svi_run()].
#' @param num_samples Number of guide draws.
#' @param newdata A list of arguments for the model (as passed to [svi_run()]'s `...`), or
#'   `NULL` for the fit's data.
#' @param site The observed site to predict or check, or `NULL` for the model's only
#'   observed site.
#' @param type For `pp_check()`: the name of a bayesplot `ppc_` function without the prefix,
#'   e.g. `"dens_overlay"`, `"hist"`, `"stat"`, `"intervals"`.
#' @param ndraws For `pp_check()`: the number of replicated data sets.
#' @param ... Passed to the bayesplot function by `pp_check()`; unused otherwise.
#' @return `coef()`: a named numeric vector. `vcov()`: a matrix. `fitted()`, `predict()`: a
#'   vector (or array) of posterior predictive means shaped like the observed site.
#'   `pp_check()`: a ggplot object.
#' @examples
#' model <- function(x, y) {
#'   b <- sample_site("b", dist_normal(c(0, 0), 10))
#'   plate("data", length(y), function(i) sample_site("y", dist_normal(b[1] + b[2] * x, 1), obs = y))
#' }
#' guide <- function(x, y) {
#'   sample_site("b", dist_normal(param("b_loc", c(0, 0), names = c("intercept", "slope")),
#'                                param("b_scale", c(1, 1), constraint = constraint_positive())))
#' }
#' set.seed(1)
#' x <- rnorm(40)
#' y <- 1 + 2 * x + rnorm(40)
#' fit <- svi_run(svi(model, guide, adam(0.05)), x, y, num_steps = 1000, progress = FALSE)
#' coef(fit)
#' vcov(fit)
#' head(fitted(fit))
#' predict(fit, newdata = list(x = c(-1, 0, 1), y = numeric(3)))
#' if (requireNamespace("bayesplot", quietly = TRUE)) bayesplot::pp_check(fit, ndraws = 20)
#' @name svi_fit_methods
NULL

#' @rdname svi_fit_methods
#' @export
coef.svi_fit <- function(object, num_samples = 1000, ...) {
  colMeans(as.matrix(posterior_draws(object, num_samples = num_samples)))
}

#' @rdname svi_fit_methods
#' @export
vcov.svi_fit <- function(object, num_samples = 1000, ...) {
  num_samples <- check_count(num_samples, "num_samples")
  exact <- guide_gaussian_vcov(object)
  if (!is.null(exact)) return(exact)
  stats::cov(as.matrix(posterior_draws(object, num_samples = num_samples)))
}

# The guide's covariance when every latent site is a (multivariate) Normal whose parameters
# are the same in two runs of the guide (so they come from parameters, not from other draws):
# block diagonal, one block per site, named like the draws' columns. NULL otherwise.
guide_gaussian_vcov <- function(fit) {
  src <- draw_source(fit, list())
  runs <- guide_runs(src$svi$guide, src$args, src$store, 2L)
  a <- latent_sites(runs[[1]])
  b <- latent_sites(runs[[2]])
  if (!length(a) || !identical(names(a), names(b))) return(NULL)
  plain <- function(d) lapply(unclass(d), draw_plain_value)
  blocks <- vector("list", length(a))
  for (j in seq_along(a)) {
    d <- a[[j]]$fn
    if (!identical(plain(d), plain(b[[j]]$fn))) return(NULL)
    k <- length(draw_plain_value(a[[j]]$value))
    p <- plain(d)
    blocks[[j]] <- if (inherits(d, "svi_dist_normal") && length(p$mean) == k && length(p$sd) %in% c(1L, k)) {
      diag(rep_len(as.vector(p$sd)^2, k), k)
    } else if (inherits(d, "svi_dist_mvnormal") && length(p$mean) == k && identical(dim(p$scale_tril), c(k, k))) {
      tcrossprod(p$scale_tril)
    } else {
      return(NULL)
    }
  }
  n <- vapply(blocks, nrow, 1L)
  out <- matrix(0, sum(n), sum(n))
  ends <- cumsum(n)
  for (j in seq_along(blocks)) {
    idx <- (ends[j] - n[j] + 1L):ends[j]
    out[idx, idx] <- blocks[[j]]
  }
  labels <- colnames(as.matrix(stack_draws(lapply(runs, latent_values), 2L, "guide")))
  dimnames(out) <- list(labels, labels)
  out
}

#' @rdname svi_fit_methods
#' @export
fitted.svi_fit <- function(object, num_samples = 1000, site = NULL, ...) {
  predict.svi_fit(object, newdata = NULL, num_samples = num_samples, site = site)
}

#' @rdname svi_fit_methods
#' @export
predict.svi_fit <- function(object, newdata = NULL, num_samples = 1000, site = NULL, ...) {
  if (!is.null(newdata) && !is.list(newdata)) {
    cli::cli_abort(c("{.arg newdata} must be a list of arguments for the model, or {.code NULL}.",
                     x = "It is {.obj_type_friendly {newdata}}.",
                     i = "For example {.code newdata = list(x = x_new, y = numeric(length(x_new)))}."))
  }
  args <- if (is.null(newdata)) object$args else newdata
  site <- fit_observed_site(object, args, site)
  pp <- do.call(predictive, c(list(object$svi$model, object), args,
                              list(num_samples = num_samples, return_sites = site)))
  draws <- pp[[site]]
  if (is.null(dim(draws))) return(mean(draws))
  m <- colMeans(matrix(draws, nrow = num_samples))
  if (length(dim(draws)) > 2L) dim(m) <- dim(draws)[-1]
  m
}

# The name of the observed site to predict: `site`, or the model's only one.
fit_observed_site <- function(fit, args, site, call = parent.frame()) {
  obs <- names(fit_observed_values(fit, args))
  if (!length(obs)) cli::cli_abort("The model has no observed sample site.", call = call)
  if (is.null(site)) {
    if (length(obs) > 1L) {
      cli::cli_abort(c("The model has several observed sites: {.val {obs}}.",
                       i = "Choose one with {.arg site}."), call = call)
    }
    return(obs)
  }
  if (!is.character(site) || length(site) != 1L || !site %in% obs) {
    cli::cli_abort("{.arg site} must be one of the model's observed sites: {.val {obs}}.", call = call)
  }
  site
}

# The observed data of the model's observed sites, from one run on a guide draw.
fit_observed_values <- function(fit, args) {
  src <- draw_source(fit, args)
  with_plain_ctx(src$store, {
    g <- run_traced(src$svi$guide, src$args)
    tr <- new_trace_handler()
    with_handlers(list(tr, new_replay_handler(g$sites)), do.call(src$svi$model, src$args))
  })
  sites <- Filter(function(x) identical(x$type, "sample") && isTRUE(x$is_observed), tr$rec$sites)
  lapply(sites, function(x) draw_plain_value(x$value))
}

#' @rdname svi_fit_methods
#' @exportS3Method bayesplot::pp_check
pp_check.svi_fit <- function(object, type = "dens_overlay", ndraws = 50, site = NULL, ...) {
  if (!requireNamespace("bayesplot", quietly = TRUE)) {
    cli::cli_abort(c("{.fn pp_check} needs the {.pkg bayesplot} package.",
                     i = "Install it with {.code install.packages(\"bayesplot\")}."))
  }
  ndraws <- check_count(ndraws, "ndraws")
  site <- fit_observed_site(object, object$args, site)
  y <- as.vector(fit_observed_values(object, object$args)[[site]])
  pp <- predictive(object$svi$model, object, num_samples = ndraws, return_sites = site)
  yrep <- matrix(pp[[site]], nrow = ndraws)
  fun <- paste0("ppc_", type)
  if (!exists(fun, envir = asNamespace("bayesplot"), inherits = FALSE)) {
    cli::cli_abort("{.arg type} must name a bayesplot {.code ppc_} function (e.g. {.val dens_overlay}); there is no {.fn bayesplot::{fun}}.")
  }
  get(fun, envir = asNamespace("bayesplot"))(y, yrep, ...)
}
