# Distributions with an event dimension (the last dim of their parameters), and the point mass.

#' Multivariate distributions and the point mass
#'
#' * `dist_dirichlet(alpha)`: concentrations along the last dimension (a vector is one
#'   distribution over the simplex, the rows of a matrix a batch of them). Draws are
#'   reparameterized by implicit gradients of normalized gamma draws.
#' * `dist_mvnormal(mean, scale_tril = , cov = , precision = )`: multivariate normal with
#'   mean along the last dimension and one lower-triangular scale
#'   (`cov = scale_tril %*% t(scale_tril)`); give exactly one of `scale_tril`, `cov` or
#'   `precision` (the inverse covariance, e.g. a [dist_wishart()] latent: the density and
#'   draws then work with its Cholesky factor, never inverting it).
#' * `dist_delta(value, log_density = 0, event_dim = 0)`: a point mass at `value`
#'   (log-density `log_density` there, `-Inf` elsewhere); its draw is `value` itself,
#'   differentiably. `event_dim = 1` treats the last dimension of `value` as one event,
#'   `event_dim = 2` a whole matrix.
#'
#' For these, values put their event along the last dimension too: `log_prob()` of an
#' `n x K` matrix under a Dirichlet gives `n` numbers.
#'
#' @param alpha Positive concentrations.
#' @param mean Mean vector (or matrix whose rows are means).
#' @param scale_tril Lower-triangular matrix with positive diagonal.
#' @param cov Symmetric positive-definite covariance matrix.
#' @param precision Symmetric positive-definite precision matrix (inverse covariance).
#' @param value The location of the point mass.
#' @param log_density Log-density at `value` (a number or batch-shaped).
#' @param event_dim `0`, `1` or `2`.
#' @return A distribution object (class `svi_dist`).
#' @examples
#' d <- dist_dirichlet(c(1, 2, 3))
#' set.seed(1)
#' x <- dist_sample(d, n = 2)
#' log_prob(d, x)
#' m <- dist_mvnormal(c(0, 1), cov = matrix(c(2, 0.5, 0.5, 1), 2))
#' log_prob(m, c(0.3, 0.2))
#' log_prob(dist_delta(2), c(2, 3))
#' @name dist-multivariate
NULL

event_len <- function(x) {
  d <- dim(x)
  if (is.null(d)) length(x) else d[length(d)]
}
event_batch_shape <- function(x) {
  d <- dim(x)
  if (length(d) <= 1L) return(integer(0))
  as.integer(d[-length(d)])
}
# `p` (one event of length K) repeated over a batch `shape`: an array c(shape, K).
expand_rows <- function(p, shape) {
  k <- length(p)
  n <- prod(shape)
  if (is_tensor(p)) {
    dim(p) <- c(1L, k)
    out <- matrix(1, n, 1) %*% p
  } else {
    out <- matrix(rep(as.vector(p), each = n), n, k)
  }
  dim(out) <- c(shape, k)
  out
}
expand_event <- function(d, shape) {
  shape <- as.integer(shape)
  bs <- dist_batch_shape(d)
  if (identical(bs, shape)) return(d)
  if (length(bs)) cli::cli_abort("Cannot expand a distribution with batch shape [{paste(bs, collapse = ', ')}] to [{paste(shape, collapse = ', ')}].")
  d[[1]] <- expand_rows(d[[1]], shape)
  d
}

#' @rdname dist-multivariate
#' @export
dist_dirichlet <- function(alpha) {
  alpha <- check_param(alpha, "alpha", "dirichlet", "positive")
  if (event_len(alpha) < 2L) {
    cli::cli_abort("{.arg alpha} of {.fn dist_dirichlet} needs at least 2 categories along its last dimension.")
  }
  new_dist("dirichlet", list(alpha = alpha), event_dim = 1L)
}

#' @export
dist_batch_shape.svi_dist_dirichlet <- function(d) event_batch_shape(d$alpha)
#' @export
dist_expand.svi_dist_dirichlet <- function(d, shape) expand_event(d, shape)
#' @export
dist_mean.svi_dist_dirichlet <- function(d) {
  a <- d$alpha
  if (is_tensor(a)) {
    if (is.null(dim(a))) return(a / sum(a))
    return(a / row_total(a))
  }
  if (is.null(dim(a))) return(a / sum(a))
  k <- event_len(a)
  m <- matrix(a, ncol = k)
  out <- m / rowSums(m)
  dim(out) <- dim(a)
  out
}
#' @export
dist_variance.svi_dist_dirichlet <- function(d) {
  a <- d$alpha
  s <- if (is.null(dim(a))) sum(a) else row_total(a)
  m <- a / s
  m * (1 - m) / (s + 1)
}
#' @export
support.svi_dist_dirichlet <- function(d) constraint_simplex()

# Row sums of an array (event along the last dim) spread back to the array's shape, so
# that a / row_total(a) normalizes each row; works on handles through matrix products.
row_total <- function(a) {
  d <- dim(a)
  k <- d[length(d)]
  n <- length(a) / k
  m <- a
  dim(m) <- c(n, k)
  s <- m %*% matrix(1, k, 1) %*% matrix(1, 1, k)
  dim(s) <- d
  s
}

#' @rdname dist-multivariate
#' @export
dist_mvnormal <- function(mean, scale_tril = NULL, cov = NULL, precision = NULL) {
  given <- c(scale_tril = !is.null(scale_tril), cov = !is.null(cov), precision = !is.null(precision))
  if (sum(given) != 1L) {
    cli::cli_abort("{.fn dist_mvnormal} needs exactly one of {.arg scale_tril}, {.arg cov} or {.arg precision}.")
  }
  mean <- check_param(mean, "mean", "mvnormal")
  k <- event_len(mean)
  if (!is.null(precision)) {
    tril <- cholesky_param(precision, "precision", k)
    return(new_dist("mvnormal_precision", list(mean = mean, precision_tril = tril), event_dim = 1L))
  }
  if (!is.null(cov)) {
    scale_tril <- cholesky_param(cov, "cov", k)
  } else {
    scale_tril <- check_param(scale_tril, "scale_tril", "mvnormal")
    check_square(scale_tril, "scale_tril", k)
    if (!is_tensor(scale_tril)) {
      if (any(scale_tril[upper.tri(scale_tril)] != 0)) {
        cli::cli_abort("{.arg scale_tril} of {.fn dist_mvnormal} must be lower triangular.")
      }
      if (any(diag(scale_tril) <= 0)) {
        cli::cli_abort("{.arg scale_tril} of {.fn dist_mvnormal} must have a positive diagonal.")
      }
    }
  }
  new_dist("mvnormal", list(mean = mean, scale_tril = scale_tril), event_dim = 1L)
}

# The lower Cholesky factor of a symmetric positive-definite `cov` or `precision` argument of
# dist_mvnormal(): on the tape for a handle.
cholesky_param <- function(m, arg, k, call = parent.frame()) {
  m <- check_param(m, arg, "mvnormal", call = call)
  check_square(m, arg, k, call = call)
  if (is_tensor(m)) return(.Call(`_svi_cpp_cholesky`, m, identical(arg, "precision")))
  if (!isSymmetric(unname(m), tol = 1e-10)) {
    cli::cli_abort("{.arg {arg}} of {.fn dist_mvnormal} must be symmetric.", call = call)
  }
  ch <- tryCatch(chol(m), error = function(e) NULL)
  if (is.null(ch)) cli::cli_abort("{.arg {arg}} of {.fn dist_mvnormal} must be positive definite.", call = call)
  t(ch)
}

check_square <- function(m, arg, k, call = parent.frame()) {
  d <- dim(m)
  if (length(d) != 2L || d[1] != d[2] || d[1] != k) {
    cli::cli_abort("{.arg {arg}} of {.fn dist_mvnormal} must be a {k} x {k} matrix to match {.arg mean}, not {shape_text(m)}.",
                   call = call)
  }
}

#' @export
dist_batch_shape.svi_dist_mvnormal <- function(d) event_batch_shape(d$mean)
#' @export
dist_expand.svi_dist_mvnormal <- function(d, shape) expand_event(d, shape)
#' @export
dist_mean.svi_dist_mvnormal <- function(d) d$mean
#' @export
dist_variance.svi_dist_mvnormal <- function(d) {
  l <- d$scale_tril
  v <- if (is_tensor(l)) t(l^2 %*% matrix(1, ncol(l), 1)) else rowSums(l^2)
  bs <- dist_batch_shape(d)
  if (!length(bs)) {
    dim(v) <- NULL
    return(v)
  }
  expand_rows(v, bs)
}
#' @export
support.svi_dist_mvnormal <- function(d) constraint_real(event_dim = 1L)

# dist_mvnormal(precision = ): parameters mean and precision_tril (lower Cholesky factor of
# the precision).
#' @export
dist_batch_shape.svi_dist_mvnormal_precision <- function(d) event_batch_shape(d$mean)
#' @export
dist_expand.svi_dist_mvnormal_precision <- function(d, shape) expand_event(d, shape)
#' @export
dist_mean.svi_dist_mvnormal_precision <- function(d) d$mean
#' @export
dist_variance.svi_dist_mvnormal_precision <- function(d) {
  p <- d$precision_tril
  if (is_tensor(p)) {
    cli::cli_abort("{.fn dist_variance} of {.fn dist_mvnormal} with a tensor {.arg precision} is not available on the tape.")
  }
  v <- diag(chol2inv(t(p)))
  bs <- dist_batch_shape(d)
  if (!length(bs)) return(v)
  expand_rows(v, bs)
}
#' @export
support.svi_dist_mvnormal_precision <- function(d) constraint_real(event_dim = 1L)

#' @rdname dist-multivariate
#' @export
dist_delta <- function(value, log_density = 0, event_dim = 0L) {
  value <- check_param(value, "value", "delta")
  log_density <- check_param(log_density, "log_density", "delta", "any")
  if (!is.numeric(event_dim) || length(event_dim) != 1L || !event_dim %in% c(0, 1, 2)) {
    cli::cli_abort("{.arg event_dim} of {.fn dist_delta} must be 0, 1 or 2.")
  }
  d <- new_dist("delta", list(value = value, log_density = log_density), event_dim = event_dim)
  if (event_dim == 0L) broadcast_params(dist_params(d), "delta")
  d
}

#' @export
dist_batch_shape.svi_dist_delta <- function(d) {
  if (dist_event_dim(d) == 0L) return(NextMethod())
  if (dist_event_dim(d) == 2L) return(integer(0))   # one matrix (autoguides' matrix sites)
  event_batch_shape(d$value)
}
#' @export
dist_expand.svi_dist_delta <- function(d, shape) {
  if (dist_event_dim(d) == 0L) return(NextMethod())
  expand_event(d, shape)
}
#' @export
dist_log_prob.svi_dist_delta <- function(d, x) {
  if (dist_event_dim(d) == 0L) return(NextMethod())
  lp <- .Call(`_svi_cpp_dist_log_prob`, "delta", x, list(value = d$value, log_density = 0))
  if (dist_event_dim(d) == 2L) return(sum(lp) + d$log_density)
  k <- event_len(d$value)
  if (is.null(dim(lp)) || length(dim(lp)) == 1L) {
    s <- sum(lp)
  } else {
    bs <- event_batch_shape(lp)
    dim(lp) <- c(length(lp) / k, k)
    s <- lp %*% matrix(1, k, 1)
    dim(s) <- if (length(bs) > 1L) bs else NULL
  }
  s + d$log_density
}
# The draw of a point mass is its value: a batch-shaped log_density (a point mass with an
# event inside plates, as autoguides emit for the simplex sites of a plate) takes no part in
# it, and the elementwise sampler would refuse its shape.
delta_draw_params <- function(d) {
  if (dist_event_dim(d) > 0L) d$log_density <- 0
  d
}
#' @export
dist_draw_impl.svi_dist_delta <- function(d, reps, record) dist_draw_impl.svi_dist(delta_draw_params(d), reps, record)
#' @export
dist_mean.svi_dist_delta <- function(d) d$value
#' @export
dist_variance.svi_dist_delta <- function(d) 0 * d$value
#' @export
support.svi_dist_delta <- function(d) constraint_real(event_dim = dist_event_dim(d))

#' LKJ distribution over Cholesky factors of correlation matrices
#'
#' `dist_lkj_cholesky(dim, concentration)` is the distribution of the lower Cholesky factor
#' `L` of a `dim x dim` correlation matrix `L %*% t(L)` whose density is proportional to
#' `det(L %*% t(L))^(concentration - 1)` (Lewandowski, Kurowicka and Joe, 2009):
#' `concentration = 1` is uniform over correlation matrices, larger values concentrate near
#' the identity. The log-density is taken with respect to the strictly lower entries of `L`;
#' its support is [constraint_corr_cholesky()], so autoguides handle it through that
#' bijection. Draws are not reparameterized (use it as a prior).
#'
#' @param dim The matrix size, a whole number `>= 2`.
#' @param concentration A positive number (or a tensor handle).
#' @return A distribution object (class `svi_dist`).
#' @examples
#' d <- dist_lkj_cholesky(3, 2)
#' set.seed(1)
#' L <- dist_sample(d)
#' L %*% t(L)
#' log_prob(d, L)
#' @export
dist_lkj_cholesky <- function(dim, concentration = 1) {
  # (bounded: a draw is a dim x dim matrix, and dim = Inf or 1e308 ended in std::bad_alloc)
  dim <- check_count(dim, "dim", min = 2, max = 1e4, where = " of `dist_lkj_cholesky()`")
  concentration <- check_param(concentration, "concentration", "lkj_cholesky", "positive")
  if (length(concentration) != 1L) {
    cli::cli_abort("{.arg concentration} of {.fn dist_lkj_cholesky} must be a single number.")
  }
  new_dist("lkj_cholesky", list(dim = as.double(dim), concentration = concentration),
           event_dim = 2L, rsample = FALSE)
}

#' @export
dist_batch_shape.svi_dist_lkj_cholesky <- function(d) integer(0)
#' @export
support.svi_dist_lkj_cholesky <- function(d) constraint_corr_cholesky()
#' @export
dist_mean.svi_dist_lkj_cholesky <- function(d) cli::cli_abort("{.fn dist_lkj_cholesky} has no simple mean of its factor.")
