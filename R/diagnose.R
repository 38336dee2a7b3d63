#' Did the fit work? Pareto k-hat of the guide as an importance sampler
#'
#' `svi_diagnose()` treats the fitted guide q as a proposal for the posterior (Yao et al.
#' 2018, "Yes, but did it work?"): it draws `num_samples` times from the guide, replays the
#' model on each draw over the full data, and computes the log importance ratios
#' `log p(x, z) - log q(z)`. Both densities are those of the same sites in the same
#' coordinates (each site's log-density as the ELBO uses it, so transformed and Delta guide
#' sites carry their Jacobians). Pareto-smoothed importance sampling (PSIS, via the loo
#' package, or posterior >= 1.5.0) fits a generalized Pareto distribution to the largest
#' ratios; its shape, k-hat, says how heavy their tail is.
#'
#' * k-hat below `min(1 - 1/log10(S), 0.7)` (S draws; 0.67 for S = 1000): the guide covers
#'   the posterior well, and its draws (or importance-resampled ones) can be used.
#' * Between that threshold and 0.7: usable, but more draws are needed for reliable
#'   importance-corrected estimates.
#' * Above 0.7: the guide misses posterior mass, typically understating uncertainty (a
#'   mean-field guide on correlated parameters); neither its draws nor reweighting can be
#'   trusted. Use a richer guide (e.g. a full-rank [dist_mvnormal()] guide), run more steps,
#'   or sample with MCMC.
#'
#' **Per-parameter k-hat.** Two are computed for every scalar element `theta_j` of the
#' latent sites. `khat_functional` is rstan's (`vb()`): PSIS on the joint ratios times
#' `sqrt(1 + theta_j^2)`, the tail relevant for that element's first two moments; when one
#' element makes the joint tail heavy, every element's functional inherits that tail, so it
#' cannot say which one it is. `khat_params` (with `per_parameter = TRUE`) localises: for
#' element j it draws `num_samples_param` values of `theta_j` from the guide with every other
#' element held at its guide mean, and runs PSIS on those conditional ratios. The print
#' method names the elements whose k-hat is above 0.5 (a k-hat of `-Inf` means the
#' conditional ratios are constant: that element's guide is exact given the rest), or, when the joint k-hat is large but no
#' element is, says that the guide misses the dependence between parameters (the usual
#' failure of a mean-field guide), which a full-rank guide can capture. This costs
#' `num_samples_param` model evaluations per element.
#'
#' k-hat is a joint diagnostic and tends to grow with the dimension for mean-field guides
#' even when the marginals are fine; it says nothing about whether the model fits the data
#' (use [pp_check.svi_fit()] for that).
#'
#' Plates must run on the full data: a minibatch estimate of `log p` adds noise that the
#' ratios cannot absorb.
#'
#' @param fit An `svi_fit` from [svi_run()], or an `svi` object (its current parameters).
#' @param ... Arguments for the model and guide (by default those of the fit).
#' @param num_samples Number of guide draws S, a whole number `>= 10`.
#' @param per_parameter Compute the localising per-parameter k-hat `khat_params`?
#' @param num_samples_param Draws per element for `khat_params`.
#' @return An object of class `svi_diagnosis`: a list with `khat`, `threshold`,
#'   `num_samples`, `n_eff` (effective sample size of the smoothed weights), `khat_params`
#'   and `khat_functional` (named per-element k-hats, see Details), `elbo` and `elbo_se` (the ELBO estimated from the same draws
#'   and its Monte Carlo standard error), `status` (`"good"`, `"more_draws"`, `"poor"` or
#'   `"very_poor"`), `log_ratios`, `log_weights` (normalised PSIS log-weights) and `draws`
#'   (the guide draws, an `svi_draws`). Its `print()` method says what to do.
#' @seealso [posterior_draws()] with `importance_resample = TRUE`; [summary.svi_fit()], which
#'   includes the diagnosis.
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
#' fit <- svi_run(svi(model, guide, adam(lr = 0.05)), y, num_steps = 1000, progress = FALSE)
#' if (requireNamespace("loo", quietly = TRUE)) svi_diagnose(fit, num_samples = 500)
#' @export
svi_diagnose <- function(fit, ..., num_samples = 1000, per_parameter = TRUE, num_samples_param = 1000) {
  src <- draw_source(fit, list(...), arg = "fit")
  num_samples <- check_count(num_samples, "num_samples")
  check_flag(per_parameter, "per_parameter")
  num_samples_param <- check_count(num_samples_param, "num_samples_param")
  if (num_samples < 10L) cli::cli_abort("{.arg num_samples} must be at least 10 for PSIS, not {num_samples}.")
  backend <- psis_backend()
  if (is.null(backend)) cli::cli_abort(psis_missing_message())
  runs <- importance_runs(src, num_samples)
  num_samples_param <- min(num_samples_param, num_samples)
  kp <- if (per_parameter) conditional_khats(src, runs, num_samples_param, backend)
  d <- diagnose_from(runs, backend, kp)
  d$num_samples_param <- num_samples_param
  d
}

# The guide drawn S times, the model replayed on each draw: latent values and log ratios.
# With `fixed` (guide sites to replay, one list per draw), the guide is replayed on those
# values instead of drawing them.
importance_runs <- function(src, num_samples, fixed = NULL, call = parent.frame()) {
  model <- src$svi$model
  guide <- src$svi$guide
  args <- src$args
  old_warned <- .svi$warned
  .svi$warned <- new.env(parent = emptyenv())   # model/guide checks once, not per draw
  on.exit(.svi$warned <- old_warned, add = TRUE)
  log_ratios <- numeric(num_samples)
  latents <- vector("list", num_samples)
  sites <- NULL
  with_plain_ctx(src$store, for (i in seq_len(num_samples)) {
    g <- if (is.null(fixed)) run_traced(guide, args) else
      with_handler(new_replay_handler(fixed[[i]]), run_traced(guide, args))
    trace_h <- new_trace_handler()
    with_handlers(list(trace_h, new_replay_handler(g$sites)), do.call(model, args))
    if (i == 1L) {
      check_not_subsampled(g$sites, "guide", call)
      check_not_subsampled(trace_h$rec$sites, "model", call)
      sites <- g$sites
    }
    tr <- checked_traces(trace_h$rec, g)
    log_p <- sum(vapply(tr$model, function(x) sum(value_of(site_log_prob(x))), 0))
    log_q <- sum(vapply(tr$guide, function(x) sum(value_of(site_log_prob(x))), 0))
    log_ratios[i] <- log_p - log_q
    latents[[i]] <- latent_values(tr$guide)
  })
  list(log_ratios = log_ratios, draws = stack_draws(latents, num_samples, "guide", call = call),
       sites = sites)
}

# Per-element k-hat that points at the culprit: for element j, draws where only z_j varies
# (drawn from the guide) and every other latent element is held at its mean, so the ratios
# are those of p(z_j | rest) / q(z_j | rest). (The rstan functional on the joint ratios, also
# kept, cannot tell elements apart when one of them makes the joint tail heavy.)
conditional_khats <- function(src, runs, num_samples, backend) {
  theta <- as.matrix(runs$draws)
  if (!ncol(theta)) return(stats::setNames(numeric(), character()))
  center <- colMeans(theta)
  site_of <- rep(names(runs$draws), vapply(runs$draws, function(v) prod(draw_shape(v)), 1))
  rows <- seq_len(min(num_samples, nrow(theta)))
  out <- vapply(seq_len(ncol(theta)), function(j) {
    fixed <- lapply(rows, function(r) {
      z <- center
      z[j] <- theta[r, j]
      conditional_sites(runs$sites, runs$draws, z, site_of)
    })
    lr <- importance_runs(src, length(rows), fixed = fixed)$log_ratios
    psis_khat(lr, backend)
  }, 0)
  stats::setNames(out, colnames(theta))
}

# Guide sites (as replay wants them) carrying the flat latent vector `z`.
conditional_sites <- function(sites, draws, z, site_of) {
  for (nm in names(draws)) {
    v <- unname(z[site_of == nm])
    shape <- draw_shape(draws[[nm]])
    if (length(shape) > 1L || !is.null(dim(sites[[nm]]$value))) dim(v) <- shape
    sites[[nm]]$value <- v
  }
  sites
}

diagnose_from <- function(runs, backend, khat_params = NULL) {
  lr <- runs$log_ratios
  S <- length(lr)
  ps <- psis_smooth(lr, backend)
  theta <- as.matrix(runs$draws)
  khat_functional <- vapply(seq_len(ncol(theta)), function(j) {
    psis_khat(lr + 0.5 * log1p(theta[, j]^2), backend)
  }, 0)
  names(khat_functional) <- colnames(theta)
  thr <- psis_threshold(S)
  k <- ps$khat
  status <- if (identical(k, -Inf)) "good" else if (!is.finite(k) || k >= 1) "very_poor" else if (k >= 0.7) "poor" else
    if (k > thr) "more_draws" else "good"
  fin <- lr[is.finite(lr)]
  structure(list(
    khat = k, threshold = thr, num_samples = S, n_eff = ps$n_eff,
    khat_params = khat_params, khat_functional = khat_functional,
    elbo = mean(fin), elbo_se = stats::sd(fin) / sqrt(length(fin)),
    status = status, log_ratios = lr, log_weights = ps$log_weights, draws = runs$draws
  ), class = "svi_diagnosis")
}

# The verdict and what to do, as lines for print() and summary().
diagnosis_lines <- function(d) {
  k <- format(round(d$khat, 2), nsmall = 2)
  thr <- format(round(d$threshold, 2), nsmall = 2)
  head <- paste0("Pareto k-hat ", k, " (", d$num_samples, " guide draws; reliable below ", thr, ")")
  worst <- diagnosis_worst(d)
  verdict <- switch(d$status,
    good = "The guide is a good importance proposal for the posterior: its draws can be used.",
    more_draws = paste0("The guide is close, but importance-corrected estimates need more draws ",
                        "(num_samples >= ", ceiling(10^(1 / (1 - d$khat))), ")."),
    poor = c("k-hat is above 0.7: the guide misses posterior mass (often: understated uncertainty); its draws are unreliable.",
             "Try a richer guide (e.g. a full-rank dist_mvnormal() guide), more steps, or MCMC."),
    very_poor = c("k-hat is 1 or more (far above 0.7): the guide is far from the posterior; do not use its draws, even reweighted.",
                  "Try a richer guide (e.g. a full-rank dist_mvnormal() guide), more steps, or MCMC.")
  )
  c(head, verdict, worst)
}

# Names the elements whose own k-hat is above 0.5 (at most five), when the joint one is above 0.7.
diagnosis_worst <- function(d) {
  kp <- d$khat_params
  if (d$status %in% c("good", "more_draws") || is.null(kp)) return(character())
  bad <- sort(kp[kp > 0.5], decreasing = TRUE)
  if (!length(bad)) {
    return(paste0("No single parameter stands out (per-parameter k-hat all below 0.5): the guide ",
                  "misses the dependence between parameters, which a full-rank guide can capture."))
  }
  shown <- utils::head(bad, 5)
  paste0("Per-parameter k-hat points at: ",
         paste0(names(shown), " (", format(round(shown, 2), nsmall = 2), ")", collapse = ", "),
         if (length(bad) > 5) paste0(" and ", length(bad) - 5, " more"), ".")
}

#' @export
print.svi_diagnosis <- function(x, ...) {
  cat("<svi_diagnosis> ", paste(diagnosis_lines(x), collapse = "\n  "), "\n", sep = "")
  cat("  ELBO ", fit_fmt_num(x$elbo), " (MC se ", format(signif(x$elbo_se, 2)), "), PSIS n_eff ",
      format(round(x$n_eff)), "\n", sep = "")
  invisible(x)
}

# `n` draws resampled with the PSIS weights (with replacement) from the diagnosis's draws.
importance_resampled <- function(d, n = d$num_samples) {
  S <- d$num_samples
  idx <- sample.int(S, n, replace = TRUE, prob = exp(d$log_weights))
  draws <- d$draws
  out <- lapply(unclass(draws), function(v) {
    if (is.null(dim(v))) v[idx] else {
      dims <- dim(v)
      m <- matrix(v, nrow = S)[idx, , drop = FALSE]
      dims[1] <- n
      dim(m) <- dims
      m
    }
  })
  structure(out, num_samples = n, labels = attr(draws, "labels"), khat = d$khat, class = "svi_draws")
}
