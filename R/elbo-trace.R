#' Evidence lower bound estimators
#'
#' `trace_elbo()` is the standard Monte Carlo ELBO (Pyro's `Trace_ELBO`): pathwise
#' gradients for reparameterized guide sites and score-function gradients for the rest, with
#' partial Rao-Blackwellization over plates. `meanfield_elbo()` (Pyro's
#' `TraceMeanField_ELBO`) replaces each latent site's Monte Carlo term by the analytic KL
#' divergence where one is known; it needs a fully reparameterized guide.
#'
#' The loss is the negative ELBO: `svi_step()` minimizes it.
#'
#' @param num_particles Number of samples of the guide per step; the estimate is their mean.
#' @param vectorize_particles Accepted for compatibility with Pyro. The particles are always
#'   drawn one after another (the estimate and its gradient are the same; only speed differs).
#' @return An ELBO object for [svi()].
#' @examples
#' trace_elbo()
#' trace_elbo(num_particles = 10)
#' meanfield_elbo()
#' @export
trace_elbo <- function(num_particles = 1, vectorize_particles = FALSE) {
  num_particles <- check_particles(num_particles)
  if (!is.logical(vectorize_particles) || length(vectorize_particles) != 1L || is.na(vectorize_particles)) {
    cli::cli_abort("{.arg vectorize_particles} must be {.code TRUE} or {.code FALSE}.")
  }
  structure(list(name = "Trace_ELBO", num_particles = num_particles,
                 vectorize_particles = vectorize_particles),
            class = c("svi_trace_elbo", "svi_elbo"))
}

#' @export
elbo_particle.svi_trace_elbo <- function(loss, traces, training) {
  model <- traces$model
  guide <- traces$guide
  # all pathwise and all common sites: the whole ELBO in one C++ call (same tape records)
  elbo <- .Call(`_svi_cpp_elbo_reparam`, model, guide)
  if (!is.null(elbo)) return(list(elbo = elbo, surrogate = elbo))
  model_lp <- lapply(model, site_log_prob)
  guide_lp <- lapply(guide, site_log_prob)
  model_total <- sum_log_probs(model_lp)
  elbo <- model_total - sum_log_probs(guide_lp)
  reparam <- vapply(guide, site_reparam, TRUE)
  if (all(reparam)) return(list(elbo = elbo, surrogate = elbo))
  # Non-reparameterized guide sites enter the surrogate through their score terms only (their
  # log q has expected gradient zero, so, as in Pyro, it is left out).
  surrogate <- model_total - sum_log_probs(guide_lp[reparam])
  log_r <- NULL
  for (nm in names(guide)[!reparam]) {
    g <- guide[[nm]]
    if (is.null(log_r)) log_r <- compute_log_r(model, model_lp, guide_lp)
    # (tests switch Rao-Blackwellization off to measure what it buys)
    w <- sum_to_frames(log_r, if (isFALSE(loss$rao_blackwellize)) list() else g$frames)
    score <- site_log_prob_raw(g)    # the score function is neither scaled nor masked
    surrogate <- surrogate + sum(score * w)
  }
  list(elbo = elbo, surrogate = surrogate)
}

# sum(lp_1) + sum(lp_2) + ... over sites: one C++ call when any is a handle.
sum_log_probs <- function(lps) {
  if (!length(lps)) return(0)
  total <- .Call(`_svi_cpp_tensor_total`, lps)
  if (!is.null(total)) return(total)
  total <- 0
  for (lp in lps) total <- total + sum(lp)
  total
}

# Detached per-site costs log p - log q for the score-function weights (kept on the tape
# when one is recording, so a replayed step recomputes them).
compute_log_r <- function(model, model_lp, guide_lp) {
  lapply(names(model), function(nm) {
    v <- model_lp[[nm]]
    if (!isTRUE(model[[nm]]$is_observed) && !is.null(guide_lp[[nm]])) v <- v - guide_lp[[nm]]
    cost_term(model[[nm]]$frames, detach_value(v))
  })
}
