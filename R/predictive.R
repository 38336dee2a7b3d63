#' Posterior predictive draws
#'
#' `predictive()` draws from the posterior predictive distribution: it draws the guide
#' `num_samples` times (as [posterior_draws()] does, so with the same seed the latent draws
#' are the same), then runs `model` once per draw with its latent sites conditioned on that
#' draw, and collects the model's sites. Observed sites are drawn afresh from the model given
#' the latent values (their data are ignored, except to give shapes), so pass the data the
#' model needs to know its sizes and covariates: new covariates give predictions for new
#' cases. This follows Pyro's `Predictive(model, guide = guide)` (pyro-semantics section 9),
#' with observed sites resampled rather than requiring the data to be replaced by `NULL`.
#'
#' @param model A model function, usually the one the guide was fitted to.
#' @param s An `svi` object, or an `svi_fit` from [svi_run()] (whose parameters at the end
#'   of the run are used, and whose data are reused when `...` is empty).
#' @param ... Arguments passed to the guide and the model.
#' @param num_samples Number of draws, a whole number `>= 1`.
#' @param return_sites `NULL` for every sample site of the model, or the names of the sites
#'   to return; `"_RETURN"` adds the model's return value.
#' @return An object of class `svi_draws` (see [posterior_draws()]): a named list of
#'   arrays with `num_samples` as first dimension.
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
#' pp <- predictive(model, fit, num_samples = 100)
#' dim(pp$obs)                       # 100 replicated data sets of 50 observations
#' c(mean(pp$obs), mean(y))          # a simple posterior predictive check
#' @export
predictive <- function(model, s, ..., num_samples = 1000, return_sites = NULL) {
  if (!is.function(model)) cli::cli_abort("{.arg model} must be a function.")
  src <- draw_source(s, list(...))
  num_samples <- check_count(num_samples, "num_samples")
  if (!is.null(return_sites) &&
      (!is.character(return_sites) || !length(return_sites) || anyNA(return_sites))) {
    cli::cli_abort("{.arg return_sites} must be {.code NULL} or a character vector of site names.")
  }
  call <- environment()
  guide <- guide_runs(src$svi$guide, src$args, src$store, num_samples)
  latents <- lapply(guide, latent_values)
  runs <- with_plain_ctx(src$store, lapply(latents, function(z) {
    h <- new_predictive_handler(z)
    tr <- new_trace_handler()
    value <- with_handler(tr, with_handler(h, do.call(model, src$args)))
    check_not_subsampled(tr$rec$sites, "model", call)
    sites <- sample_sites(tr$rec$sites)
    out <- lapply(sites, function(x) draw_plain_value(x$value))
    if ("_RETURN" %in% return_sites) out[["_RETURN"]] <- draw_plain_value(value)
    out
  }))
  if (!is.null(return_sites)) {
    missing_sites <- setdiff(return_sites, names(runs[[1]]))
    if (length(missing_sites)) {
      cli::cli_abort(c(
        "The model has no sample site{?s} named {.val {missing_sites}} (in {.arg return_sites}).",
        i = "Its sample sites are {.val {setdiff(names(runs[[1]]), '_RETURN')}}."
      ))
    }
    runs <- lapply(runs, `[`, return_sites)
  }
  stack_draws(runs, num_samples, "model")
}

# Conditions the model's sample sites on one guide draw and resamples its observed sites.
new_predictive_handler <- function(draw) {
  new_handler("predictive", process = function(msg) {
    if (!identical(msg$type, "sample")) return(msg)
    v <- draw[[msg$name]]
    if (!is.null(v)) {
      msg$value <- v
      msg$is_observed <- TRUE
      msg$done <- TRUE
    } else if (isTRUE(msg$is_observed)) {
      msg$value <- NULL
      msg$is_observed <- FALSE
      msg$done <- FALSE
    }
    msg
  })
}
