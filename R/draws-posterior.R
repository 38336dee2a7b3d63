# Conversions to the posterior package's draws formats (one chain of independent draws), for
# draws and for fits (which draw `num_samples` times from the guide first). Registered as S3
# methods of posterior's generics when posterior is loaded.

#' Convert draws or fits to posterior's draws formats
#'
#' Methods for [posterior::as_draws()], [posterior::as_draws_df()],
#' [posterior::as_draws_matrix()] and [posterior::as_draws_rvars()]: one chain of
#' independent draws (so R-hat and ESS of these draws say nothing about the quality of the
#' fit, only about the Monte Carlo error of the summaries; see [svi_diagnose()]). A fit is
#' first drawn from with [posterior_draws()].
#'
#' @param x An `svi_draws` from [posterior_draws()] or [predictive()], or an `svi_fit`.
#' @param num_samples For fits: the number of guide draws.
#' @param ... Unused.
#' @return A posterior draws object.
#' @examples
#' model <- function(y) {
#'   mu <- sample_site("mu", dist_normal(0, 10))
#'   plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, 1), obs = y))
#' }
#' guide <- function(y) {
#'   scale <- param("scale", 1, constraint = constraint_positive())
#'   sample_site("mu", dist_normal(param("loc", 0), scale))
#' }
#' set.seed(1)
#' fit <- svi_run(svi(model, guide, adam(lr = 0.05)), rnorm(20, 3), num_steps = 300, progress = FALSE)
#' if (requireNamespace("posterior", quietly = TRUE)) {
#'   posterior::summarise_draws(posterior::as_draws_df(fit, num_samples = 200))
#' }
#' @name svi_as_draws
NULL

#' @rdname svi_as_draws
#' @exportS3Method posterior::as_draws_matrix
as_draws_matrix.svi_draws <- function(x, ...) posterior::as_draws_matrix(as.matrix(x))

#' @rdname svi_as_draws
#' @exportS3Method posterior::as_draws_df
as_draws_df.svi_draws <- function(x, ...) posterior::as_draws_df(as_draws_matrix.svi_draws(x))

#' @rdname svi_as_draws
#' @exportS3Method posterior::as_draws_rvars
as_draws_rvars.svi_draws <- function(x, ...) posterior::as_draws_rvars(as_draws_matrix.svi_draws(x))

#' @rdname svi_as_draws
#' @exportS3Method posterior::as_draws
as_draws.svi_draws <- function(x, ...) as_draws_df.svi_draws(x)

#' @rdname svi_as_draws
#' @exportS3Method posterior::as_draws_matrix
as_draws_matrix.svi_fit <- function(x, num_samples = 1000, ...) {
  as_draws_matrix.svi_draws(posterior_draws(x, num_samples = num_samples))
}

#' @rdname svi_as_draws
#' @exportS3Method posterior::as_draws_df
as_draws_df.svi_fit <- function(x, num_samples = 1000, ...) {
  as_draws_df.svi_draws(posterior_draws(x, num_samples = num_samples))
}

#' @rdname svi_as_draws
#' @exportS3Method posterior::as_draws_rvars
as_draws_rvars.svi_fit <- function(x, num_samples = 1000, ...) {
  as_draws_rvars.svi_draws(posterior_draws(x, num_samples = num_samples))
}

#' @rdname svi_as_draws
#' @exportS3Method posterior::as_draws
as_draws.svi_fit <- function(x, num_samples = 1000, ...) as_draws_df.svi_fit(x, num_samples = num_samples)
