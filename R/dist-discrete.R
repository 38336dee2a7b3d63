# Discrete distributions: values are counts (0/1 for Bernoulli, 1..K for categorical).
# Draws carry no gradient; inference uses score-function estimators for their sites.

#' Discrete distributions
#'
#' Constructors for discrete distributions with R's parameter names. Probabilities can be
#' given directly (`prob`) or on the logit scale (`logit`, numerically safer when they come
#' from a linear predictor); give exactly one. Values outside the support (non-integers,
#' negative counts, counts above `size`) have log-probability `-Inf`. Draws are never
#' reparameterized.
#'
#' * `dist_bernoulli(prob, logit)`: 0/1 outcomes, as `dbinom(x, 1, prob)`.
#' * `dist_binomial(size, prob, logit)`: as [dbinom()].
#' * `dist_categorical(prob, logit)`: categories `1..K`, probabilities along the last
#'   dimension (a vector is one distribution, the rows of a matrix are a batch). `prob` need
#'   not sum to one; it is normalized, as [dmultinom()] does.
#' * `dist_poisson(lambda)`: as [dpois()].
#' * `dist_negative_binomial(size, prob, mu)`: as [dnbinom()], with `prob` or the mean `mu`.
#'
#' @param prob Probability of success (or of each category).
#' @param logit Log-odds `log(prob / (1 - prob))` (for categorical: unnormalized
#'   log-probabilities).
#' @param size Number of trials (binomial) or the dispersion (negative binomial, positive).
#' @param lambda Poisson mean (non-negative).
#' @param mu Negative binomial mean (non-negative).
#' @return A distribution object (class `svi_dist`).
#' @examples
#' log_prob(dist_binomial(10, prob = 0.3), 4) - dbinom(4, 10, 0.3, log = TRUE)
#' log_prob(dist_bernoulli(logit = 2), 1)
#' set.seed(1)
#' dist_sample(dist_categorical(c(0.2, 0.5, 0.3)), n = 5)
#' mean(dist_negative_binomial(size = 3, mu = 4))
#' @name dist-discrete
NULL

one_of <- function(a, b, an, bn, dist, call = parent.frame()) {
  if (is.null(a) == is.null(b)) {
    cli::cli_abort("{.fn {paste0('dist_', dist)}} needs exactly one of {.arg {an}} or {.arg {bn}}.", call = call)
  }
}

#' @rdname dist-discrete
#' @export
dist_bernoulli <- function(prob = NULL, logit = NULL) {
  one_of(prob, logit, "prob", "logit", "bernoulli")
  if (!is.null(prob)) {
    p <- list(prob = prob)
    d <- .Call(`_svi_cpp_dist_make`, p, spec_bernoulli_prob)
    return(if (is.null(d)) make_dist(spec_bernoulli_prob, p) else d)
  }
  p <- list(logit = logit)
  d <- .Call(`_svi_cpp_dist_make`, p, spec_bernoulli_logit)
  if (is.null(d)) make_dist(spec_bernoulli_logit, p) else d
}

#' @rdname dist-discrete
#' @export
dist_binomial <- function(size, prob = NULL, logit = NULL) {
  one_of(prob, logit, "prob", "logit", "binomial")
  size <- check_param(size, "size", "binomial", "count")
  if (!is.null(prob)) {
    p <- list(size = size, prob = check_param(prob, "prob", "binomial", "prob"))
    return(new_dist("binomial", broadcast_params(p, "binomial"), family = "binomial_prob", rsample = FALSE))
  }
  p <- list(size = size, logit = check_param(logit, "logit", "binomial"))
  new_dist("binomial", broadcast_params(p, "binomial"), family = "binomial_logit", rsample = FALSE)
}

#' @rdname dist-discrete
#' @export
dist_categorical <- function(prob = NULL, logit = NULL) {
  one_of(prob, logit, "prob", "logit", "categorical")
  if (!is.null(prob)) {
    prob <- check_param(prob, "prob", "categorical", "nonneg")
    if (!is_tensor(prob)) {
      k <- event_len(prob)
      rs <- rowSums(matrix(prob, ncol = k))
      if (any(rs <= 0)) cli::cli_abort("{.arg prob} of {.fn dist_categorical} must have a positive sum (in every row).")
    }
    return(new_dist("categorical", list(prob = prob), family = "categorical_prob", rsample = FALSE))
  }
  new_dist("categorical", list(logit = check_param(logit, "logit", "categorical")),
           family = "categorical_logit", rsample = FALSE)
}

#' @rdname dist-discrete
#' @export
dist_poisson <- function(lambda) {
  p <- list(lambda = lambda)
  d <- .Call(`_svi_cpp_dist_make`, p, spec_poisson)
  if (is.null(d)) make_dist(spec_poisson, p) else d
}

#' @rdname dist-discrete
#' @export
dist_negative_binomial <- function(size, prob = NULL, mu = NULL) {
  one_of(prob, mu, "prob", "mu", "negative_binomial")
  size <- check_param(size, "size", "negative_binomial", "positive")
  if (!is.null(prob)) {
    p <- list(size = size, prob = check_param(prob, "prob", "negative_binomial", "prob_open0"))
    return(new_dist("negative_binomial", broadcast_params(p, "negative_binomial"),
                    family = "negative_binomial_prob", rsample = FALSE))
  }
  p <- list(size = size, mu = check_param(mu, "mu", "negative_binomial", "nonneg"))
  new_dist("negative_binomial", broadcast_params(p, "negative_binomial"),
           family = "negative_binomial_mu", rsample = FALSE)
}

# ---- moments and supports ----------------------------------------------------------------

inv_logit <- function(l) 1 / (1 + exp(-l))

bern_prob <- function(d) if (is.null(d$prob)) inv_logit(d$logit) else d$prob

#' @export
dist_mean.svi_dist_bernoulli <- function(d) bern_prob(d)
#' @export
dist_variance.svi_dist_bernoulli <- function(d) {
  p <- bern_prob(d)
  p * (1 - p)
}
#' @export
support.svi_dist_bernoulli <- function(d) constraint_discrete("boolean")

#' @export
dist_mean.svi_dist_binomial <- function(d) d$size * bern_prob(d)
#' @export
dist_variance.svi_dist_binomial <- function(d) {
  p <- bern_prob(d)
  d$size * p * (1 - p)
}
#' @export
support.svi_dist_binomial <- function(d) constraint_discrete("integer_interval", 0, d$size)

#' @export
dist_mean.svi_dist_categorical <- function(d) batch_fill(d, NaN)
#' @export
dist_variance.svi_dist_categorical <- function(d) batch_fill(d, NaN)
#' @export
support.svi_dist_categorical <- function(d) {
  constraint_discrete("integer_interval", 1, event_len(if (is.null(d$prob)) d$logit else d$prob))
}
#' @export
dist_batch_shape.svi_dist_categorical <- function(d) event_batch_shape(d[[1]])
#' @export
dist_expand.svi_dist_categorical <- function(d, shape) expand_event(d, shape)

#' @export
dist_mean.svi_dist_poisson <- function(d) d$lambda
#' @export
dist_variance.svi_dist_poisson <- function(d) d$lambda
#' @export
support.svi_dist_poisson <- function(d) constraint_discrete("nonnegative_integer")

nb_mean <- function(d) if (is.null(d$mu)) d$size * (1 - d$prob) / d$prob else d$mu + 0 * d$size
#' @export
dist_mean.svi_dist_negative_binomial <- function(d) nb_mean(d)
#' @export
dist_variance.svi_dist_negative_binomial <- function(d) {
  m <- nb_mean(d)
  m + m^2 / d$size
}
#' @export
support.svi_dist_negative_binomial <- function(d) constraint_discrete("nonnegative_integer")

# Constructor specs (see dist_spec()).
spec_bernoulli_prob <- dist_spec("bernoulli", "prob", family = "bernoulli_prob", rsample = FALSE)
spec_bernoulli_logit <- dist_spec("bernoulli", "real", family = "bernoulli_logit", rsample = FALSE)
spec_poisson <- dist_spec("poisson", "nonneg", rsample = FALSE)
