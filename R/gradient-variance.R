#' Variance of the gradient estimator
#'
#' Draws `num_samples` independent gradient estimates of the svi object's loss at the current
#' parameters (each one exactly what [svi_step()] would compute, with the same number of
#' particles) and returns their elementwise variance, per parameter. Nothing is updated: the
#' parameters, the optimizer state and the decaying-average baselines stay as they are. Every
#' estimate uses the decaying averages as they are now (the values the next step would use);
#' within one estimate, particles after the first see the averages updated by the earlier
#' ones, as in a step. So after some training this measures the noise of the estimator in the
#' state training has reached.
#'
#' Compare two losses (e.g. [trace_elbo()] and [tracegraph_elbo()] with a baseline) on svi
#' objects that share a parameter store (`svi(..., store = s$store)`) to see the effect of a
#' baseline or of Rao-Blackwellization.
#'
#' @param s An [svi()] object.
#' @param ... Arguments passed to the model and the guide.
#' @param num_samples Number of gradient estimates (at least 2).
#' @return A named list with one numeric array per parameter (the shape of its unconstrained
#'   value): the variance of each element of the gradient with respect to the unconstrained
#'   value. Attribute `"mean"` holds the mean gradients the same way. Class
#'   `svi_gradient_variance`, printed as a per-parameter summary.
#' @seealso [tracegraph_elbo()], [baselines]
#' @examples
#' model <- function() sample_site("z", dist_normal(0, 1))
#' guide <- function() sample_site("z", nonreparameterized(dist_normal(param("m", 0.5), 1)))
#' s <- svi(model, guide, adam(0.01), trace_elbo())
#' set.seed(1)
#' gradient_variance(s, num_samples = 50)
#' @export
gradient_variance <- function(s, ..., num_samples = 100) {
  check_svi(s)
  num_samples <- check_count(num_samples, "num_samples", min = 2)
  args <- list(...)
  with_svi(s, {
    n <- 0L
    mean <- list()
    m2 <- list()
    for (r in seq_len(num_samples)) {
      res <- run_elbo(s$loss, s$model, s$guide, args, s$store, svi_tape(s), training = TRUE)
      # res$averages is dropped: the stored decaying averages are not changed
      n <- n + 1L
      for (nm in union(names(mean), names(res$grads))) {
        g <- res$grads[[nm]]
        if (is.null(g)) g <- 0 * mean[[nm]]  # untouched this time: no gradient
        if (is.null(mean[[nm]])) {
          # first seen now: the earlier estimates had no gradient for it, i.e. zeros
          mean[[nm]] <- 0 * g
          m2[[nm]] <- 0 * g
        }
        d <- g - mean[[nm]]
        mean[[nm]] <- mean[[nm]] + d / n
        m2[[nm]] <- m2[[nm]] + d * (g - mean[[nm]])
      }
    }
    shaped <- function(v, nm) as_plain(v, s$store$values[[nm]])
    var <- Map(function(v, nm) shaped(v / (n - 1L), nm), m2, names(m2))
    structure(var, mean = Map(shaped, mean, names(mean)), num_samples = n,
              class = "svi_gradient_variance")
  })
}

#' @export
print.svi_gradient_variance <- function(x, ...) {
  n <- attr(x, "num_samples")
  cat("<svi_gradient_variance> ", n, " gradient estimates\n", sep = "")
  if (!length(x)) return(invisible(x))
  df <- data.frame(
    parameter = names(x),
    length = vapply(x, length, 1L),
    mean_variance = vapply(x, function(v) mean(v), 1),
    total_variance = vapply(x, function(v) sum(v), 1),
    stringsAsFactors = FALSE
  )
  print(df, row.names = FALSE, digits = 4)
  invisible(x)
}
