#' @rdname trace_elbo
#' @export
meanfield_elbo <- function(num_particles = 1, vectorize_particles = FALSE) {
  out <- trace_elbo(num_particles, vectorize_particles)
  out$name <- "TraceMeanField_ELBO"
  class(out) <- c("svi_meanfield_elbo", "svi_elbo")
  out
}

#' @export
elbo_particle.svi_meanfield_elbo <- function(loss, traces, training) {
  model <- traces$model
  guide <- traces$guide
  check_meanfield_order(model, guide)
  elbo <- 0
  for (nm in names(model)) {
    s <- model[[nm]]
    if (isTRUE(s$is_observed)) {
      elbo <- elbo + sum(site_log_prob(s))
      next
    }
    g <- guide[[nm]]
    if (!site_reparam(g)) {
      cli::cli_abort(c(
        "All distributions in the guide must be fully reparameterized for {.fn meanfield_elbo}.",
        x = "Guide site {.val {nm}} is not.",
        i = "Use {.fn trace_elbo} or {.fn tracegraph_elbo} instead."
      ), call = NULL)
    }
    kl <- tryCatch(kl_divergence(g$fn, s$fn), svi_kl_not_implemented = function(e) NULL)
    if (is.null(kl)) {
      elbo <- elbo + sum(site_log_prob(s)) - sum(site_log_prob(g))
    } else {
      kl <- scale_and_mask(kl, g$scale, g$mask)
      if (length(kl) == 1L && length(g$frames)) kl <- kl * prod(frames_shape(g$frames))
      elbo <- elbo - sum(kl)
    }
  }
  for (nm in setdiff(names(guide), names(model))) {
    elbo <- elbo - sum(site_log_prob(guide[[nm]]))
  }
  list(elbo = elbo, surrogate = elbo)
}

check_meanfield_order <- function(model, guide) {
  m <- names(model)[!vapply(model, function(s) isTRUE(s$is_observed), TRUE)]
  g <- intersect(names(guide), m)
  m <- intersect(m, names(guide))
  if (setequal(m, g) && !identical(m, g)) {
    cli::cli_warn(c(
      "Failed to verify the mean-field restriction on the guide.",
      i = "Make the model and guide sites occur in the same order.",
      " " = "Model sites: {m}",
      " " = "Guide sites: {g}"
    ))
  }
}
