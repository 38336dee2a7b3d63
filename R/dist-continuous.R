# Univariate continuous distributions. Parameter names follow R's d*/r* functions.

#' Continuous distributions
#'
#' Constructors for univariate continuous distributions, with R's parameter names
#' (`dnorm(x, mean, sd)` becomes `dist_normal(mean, sd)` and so on). Parameters may be
#' numbers, vectors or arrays (scalars broadcast against the rest; otherwise shapes must be
#' equal) or tensor handles inside a model, guide or [value_and_grad()]. Numeric parameters
#' are checked at construction; handles are checked when the distribution is used.
#'
#' All of them have reparameterized draws ([has_rsample()] is `TRUE`): Gamma, Beta (and
#' Student's t through its chi-squared part) by implicit reparameterization, the rest by
#' location-scale transforms of standard noise.
#'
#' * `dist_normal(mean, sd)`: as [dnorm()].
#' * `dist_lognormal(meanlog, sdlog)`: as [dlnorm()].
#' * `dist_half_normal(scale)`: `|X|` for `X ~ N(0, scale)`.
#' * `dist_cauchy(location, scale)`: as [dcauchy()].
#' * `dist_half_cauchy(scale)`: `|X|` for a Cauchy `X` centred at 0.
#' * `dist_student_t(df, location, scale)`: `location + scale * T` with `T ~ dt(df)`.
#' * `dist_laplace(location, scale)`: density `exp(-|x - location| / scale) / (2 scale)`.
#' * `dist_exponential(rate)`: as [dexp()].
#' * `dist_gamma(shape, rate)`: as [dgamma()] (rate parameterization).
#' * `dist_beta(shape1, shape2)`: as [dbeta()].
#' * `dist_uniform(min, max)`: as [dunif()].
#'
#' @param mean,location Location.
#' @param sd,scale Scale (positive).
#' @param meanlog,sdlog Mean and standard deviation on the log scale.
#' @param df Degrees of freedom (positive).
#' @param rate Rate (positive).
#' @param shape Shape (positive).
#' @param shape1,shape2 Beta shapes (positive).
#' @param min,max Bounds of the uniform (`min < max`).
#' @return A distribution object (class `svi_dist`).
#' @seealso [log_prob()], [dist_sample()], [support()], [kl_divergence()].
#' @examples
#' d <- dist_normal(0, 2)
#' log_prob(d, 1) - dnorm(1, 0, 2, log = TRUE)
#' set.seed(1)
#' dist_sample(dist_gamma(shape = 2, rate = 3), n = 4)
#' mean(dist_beta(2, 6))
#' @name dist-continuous
NULL

#' @rdname dist-continuous
#' @export
dist_normal <- function(mean = 0, sd = 1) {
  p <- list(mean = mean, sd = sd)
  d <- .Call(`_svi_cpp_dist_make`, p, spec_normal)
  if (is.null(d)) make_dist(spec_normal, p) else d
}

#' @rdname dist-continuous
#' @export
dist_lognormal <- function(meanlog = 0, sdlog = 1) {
  p <- list(meanlog = meanlog, sdlog = sdlog)
  d <- .Call(`_svi_cpp_dist_make`, p, spec_lognormal)
  if (is.null(d)) make_dist(spec_lognormal, p) else d
}

#' @rdname dist-continuous
#' @export
dist_half_normal <- function(scale = 1) {
  p <- list(scale = scale)
  d <- .Call(`_svi_cpp_dist_make`, p, spec_half_normal)
  if (is.null(d)) make_dist(spec_half_normal, p) else d
}

#' @rdname dist-continuous
#' @export
dist_cauchy <- function(location = 0, scale = 1) {
  p <- list(location = location, scale = scale)
  d <- .Call(`_svi_cpp_dist_make`, p, spec_cauchy)
  if (is.null(d)) make_dist(spec_cauchy, p) else d
}

#' @rdname dist-continuous
#' @export
dist_half_cauchy <- function(scale = 1) {
  p <- list(scale = scale)
  d <- .Call(`_svi_cpp_dist_make`, p, spec_half_cauchy)
  if (is.null(d)) make_dist(spec_half_cauchy, p) else d
}

#' @rdname dist-continuous
#' @export
dist_student_t <- function(df, location = 0, scale = 1) {
  p <- list(df = df, location = location, scale = scale)
  d <- .Call(`_svi_cpp_dist_make`, p, spec_student_t)
  if (is.null(d)) make_dist(spec_student_t, p) else d
}

#' @rdname dist-continuous
#' @export
dist_laplace <- function(location = 0, scale = 1) {
  p <- list(location = location, scale = scale)
  d <- .Call(`_svi_cpp_dist_make`, p, spec_laplace)
  if (is.null(d)) make_dist(spec_laplace, p) else d
}

#' @rdname dist-continuous
#' @export
dist_exponential <- function(rate = 1) {
  p <- list(rate = rate)
  d <- .Call(`_svi_cpp_dist_make`, p, spec_exponential)
  if (is.null(d)) make_dist(spec_exponential, p) else d
}

#' @rdname dist-continuous
#' @export
dist_gamma <- function(shape, rate = 1) {
  p <- list(shape = shape, rate = rate)
  d <- .Call(`_svi_cpp_dist_make`, p, spec_gamma)
  if (is.null(d)) make_dist(spec_gamma, p) else d
}

#' @rdname dist-continuous
#' @export
dist_beta <- function(shape1, shape2) {
  p <- list(shape1 = shape1, shape2 = shape2)
  d <- .Call(`_svi_cpp_dist_make`, p, spec_beta)
  if (is.null(d)) make_dist(spec_beta, p) else d
}

#' @rdname dist-continuous
#' @export
dist_uniform <- function(min = 0, max = 1) {
  p <- list(min = check_param(min, "min", "uniform"), max = check_param(max, "max", "uniform"))
  broadcast_params(p, "uniform")
  if (!is_tensor(p$min) && !is_tensor(p$max) && any(p$max <= p$min)) {
    cli::cli_abort("{.arg max} of {.fn dist_uniform} must be greater than {.arg min}.")
  }
  new_dist("uniform", p)
}

# ---- moments and supports ----------------------------------------------------------------

batch_fill <- function(d, value) {
  bs <- dist_batch_shape(d)
  if (!length(bs)) return(value)
  if (length(bs) == 1L) rep(value, bs) else array(value, bs)
}

#' @export
dist_mean.svi_dist_normal <- function(d) d$mean + 0 * d$sd
#' @export
dist_variance.svi_dist_normal <- function(d) d$sd^2 + 0 * d$mean
#' @export
support.svi_dist_normal <- function(d) constraint_real()

#' @export
dist_mean.svi_dist_lognormal <- function(d) exp(d$meanlog + d$sdlog^2 / 2)
#' @export
dist_variance.svi_dist_lognormal <- function(d) (exp(d$sdlog^2) - 1) * exp(2 * d$meanlog + d$sdlog^2)
#' @export
support.svi_dist_lognormal <- function(d) constraint_positive()

#' @export
dist_mean.svi_dist_half_normal <- function(d) d$scale * sqrt(2 / pi)
#' @export
dist_variance.svi_dist_half_normal <- function(d) d$scale^2 * (1 - 2 / pi)
#' @export
support.svi_dist_half_normal <- function(d) constraint_positive()

#' @export
dist_mean.svi_dist_cauchy <- function(d) batch_fill(d, NaN)
#' @export
dist_variance.svi_dist_cauchy <- function(d) batch_fill(d, NaN)
#' @export
support.svi_dist_cauchy <- function(d) constraint_real()

#' @export
dist_mean.svi_dist_half_cauchy <- function(d) batch_fill(d, Inf)
#' @export
dist_variance.svi_dist_half_cauchy <- function(d) batch_fill(d, Inf)
#' @export
support.svi_dist_half_cauchy <- function(d) constraint_positive()

#' @export
dist_mean.svi_dist_student_t <- function(d) {
  m <- d$location + 0 * d$df + 0 * d$scale
  if (is_tensor(d$df) || is_tensor(m)) return(m)  # assumes df > 1
  m[d$df + 0 * m <= 1] <- NaN
  m
}
#' @export
dist_variance.svi_dist_student_t <- function(d) {
  v <- d$scale^2 * d$df / (d$df - 2) + 0 * d$location
  if (is_tensor(v)) return(v)  # assumes df > 2
  df <- d$df + 0 * v
  v[df <= 2] <- Inf
  v[df <= 1] <- NaN
  v
}
#' @export
support.svi_dist_student_t <- function(d) constraint_real()

#' @export
dist_mean.svi_dist_laplace <- function(d) d$location + 0 * d$scale
#' @export
dist_variance.svi_dist_laplace <- function(d) 2 * d$scale^2 + 0 * d$location
#' @export
support.svi_dist_laplace <- function(d) constraint_real()

#' @export
dist_mean.svi_dist_exponential <- function(d) 1 / d$rate
#' @export
dist_variance.svi_dist_exponential <- function(d) 1 / d$rate^2
#' @export
support.svi_dist_exponential <- function(d) constraint_positive()

#' @export
dist_mean.svi_dist_gamma <- function(d) d$shape / d$rate
#' @export
dist_variance.svi_dist_gamma <- function(d) d$shape / d$rate^2
#' @export
support.svi_dist_gamma <- function(d) constraint_positive()

#' @export
dist_mean.svi_dist_beta <- function(d) d$shape1 / (d$shape1 + d$shape2)
#' @export
dist_variance.svi_dist_beta <- function(d) {
  s <- d$shape1 + d$shape2
  d$shape1 * d$shape2 / (s^2 * (s + 1))
}
#' @export
support.svi_dist_beta <- function(d) constraint_unit_interval()

#' @export
dist_mean.svi_dist_uniform <- function(d) (d$min + d$max) / 2
#' @export
dist_variance.svi_dist_uniform <- function(d) (d$max - d$min)^2 / 12
#' @export
support.svi_dist_uniform <- function(d) {
  constraint_interval(tensor_value(d$min), tensor_value(d$max))
}

# Constructor specs (see dist_spec()).
spec_normal <- dist_spec("normal", c("real", "positive"))
spec_lognormal <- dist_spec("lognormal", c("real", "positive"))
spec_half_normal <- dist_spec("half_normal", "positive")
spec_cauchy <- dist_spec("cauchy", c("real", "positive"))
spec_half_cauchy <- dist_spec("half_cauchy", "positive")
spec_student_t <- dist_spec("student_t", c("positive", "real", "positive"))
spec_laplace <- dist_spec("laplace", c("real", "positive"))
spec_exponential <- dist_spec("exponential", "positive")
spec_gamma <- dist_spec("gamma", c("positive", "positive"))
spec_beta <- dist_spec("beta", c("positive", "positive"))
