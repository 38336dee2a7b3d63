# The Wishart distribution over positive-definite matrices (log-density and Bartlett sampler
# in inst/include/svi/dist/wishart.hpp).

#' Wishart distribution over positive-definite matrices
#'
#' `dist_wishart(df, scale_tril)` is the distribution of a `D x D` symmetric positive-definite
#' matrix `X` (for example a precision or covariance matrix) with `df` degrees of freedom and
#' scale matrix `Sigma = scale_tril %*% t(scale_tril)`:
#' \deqn{\log p(X) = \frac{df - D - 1}{2} \log|X| - \frac{1}{2} \mathrm{tr}(\Sigma^{-1} X)
#'   - \frac{df\, D}{2} \log 2 - \frac{df}{2} \log|\Sigma| - \log \Gamma_D(df / 2),}
#' taken with respect to the `D (D + 1) / 2` entries of the lower triangle of `X`. Its mean is
#' `df * Sigma`. The log-density is differentiable in `X`, `df` and `scale_tril`; a value that
#' is not symmetric positive definite has log-density `-Inf`. The support is
#' [constraint_positive_definite()], so autoguides fit such a latent through that bijection
#' (the lower Cholesky map followed by `L %*% t(L)`).
#'
#' Draws use the Bartlett decomposition (chi-square diagonal from R's gamma draws, standard
#' normals below it), so [set.seed()] reproduces them. They are not reparameterized: use the
#' Wishart as a prior, not as a guide. `log_prob()` also takes an `n x D x D` array of
#' matrices (as `dist_sample(d, n)` returns) and gives `n` log-densities.
#'
#' @param df Degrees of freedom, a single number greater than `D - 1` (or a tensor handle).
#' @param scale_tril The lower-triangular Cholesky factor of the `D x D` scale matrix, with a
#'   positive diagonal (or a tensor handle).
#' @return A distribution object (class `svi_dist`).
#' @examples
#' S <- matrix(c(2, 0.5, 0.5, 1), 2)
#' d <- dist_wishart(5, t(chol(S)))
#' mean(d)   # 5 * S
#' set.seed(1)
#' X <- dist_sample(d)
#' log_prob(d, X)
#' dim(dist_sample(d, n = 3))
#' # a Wishart prior on a precision matrix, with multivariate normal data
#' model <- function(Y) {
#'   Lambda <- sample_site("Lambda", d)
#'   plate("data", nrow(Y), function(i) {
#'     sample_site("y", dist_mvnormal(c(0, 0), precision = Lambda), obs = Y)
#'   })
#' }
#' Y <- matrix(rnorm(60), 30)
#' s <- svi(model, auto_delta(model), adam(0.05))
#' for (i in 1:300) svi_step(s, Y)
#' median(s, Y = Y)$Lambda   # the posterior mode, (5 + 30 - 3) * solve(solve(S) + crossprod(Y))
#' @export
dist_wishart <- function(df, scale_tril) {
  if (missing(df)) cli::cli_abort("{.fn dist_wishart} needs {.arg df}, the degrees of freedom.")
  if (missing(scale_tril)) {
    cli::cli_abort(c("{.fn dist_wishart} needs {.arg scale_tril}, the lower Cholesky factor of the scale matrix.",
                     i = "For a scale matrix {.code S}, use {.code scale_tril = t(chol(S))}."))
  }
  df <- check_param(df, "df", "wishart", "positive")
  if (length(df) != 1L) {
    cli::cli_abort("{.arg df} of {.fn dist_wishart} must be a single number, not {shape_text(df)}.")
  }
  scale_tril <- check_param(scale_tril, "scale_tril", "wishart")
  d <- dim(scale_tril)
  if (length(d) != 2L || d[1] != d[2]) {
    cli::cli_abort(c("{.arg scale_tril} of {.fn dist_wishart} must be a square matrix, not {shape_text(scale_tril)}.",
                     i = "For a scale matrix {.code S}, use {.code scale_tril = t(chol(S))}."))
  }
  D <- d[1]
  if (!is_tensor(scale_tril)) {
    if (any(scale_tril[upper.tri(scale_tril)] != 0)) {
      cli::cli_abort(c("{.arg scale_tril} of {.fn dist_wishart} must be lower triangular.",
                       i = "For a scale matrix {.code S}, use {.code scale_tril = t(chol(S))}."))
    }
    if (any(diag(scale_tril) <= 0)) {
      cli::cli_abort("{.arg scale_tril} of {.fn dist_wishart} must have a positive diagonal.")
    }
  }
  if (!is_tensor(df) && !(df > D - 1)) {
    cli::cli_abort("{.arg df} of {.fn dist_wishart} must be greater than {D - 1} (the dimension minus 1) for a {D} x {D} scale, not {format(df)}.")
  }
  new_dist("wishart", list(df = df, scale_tril = scale_tril), event_dim = 2L, rsample = FALSE)
}

#' @export
dist_batch_shape.svi_dist_wishart <- function(d) integer(0)
#' @export
support.svi_dist_wishart <- function(d) constraint_positive_definite()
#' @export
dist_mean.svi_dist_wishart <- function(d) d$df * tcross_prod(d$scale_tril)
# Var(X_ij) = df (Sigma_ij^2 + Sigma_ii Sigma_jj)
#' @export
dist_variance.svi_dist_wishart <- function(d) {
  l <- d$scale_tril
  s <- tcross_prod(l)
  v <- row_sums(l^2)
  dim(v) <- c(length(v), 1L)
  d$df * (s * s + tcross_prod(v))
}
