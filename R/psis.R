# Pareto-smoothed importance sampling of log importance ratios log p(x, z) - log q(z), through
# loo (preferred) or posterior, whichever is installed. Returns list(khat, log_weights
# (normalised, smoothed), n_eff), or NULL when neither package is installed.

psis_backend <- function() {
  if (requireNamespace("loo", quietly = TRUE)) return("loo")
  # (posterior has pareto_smooth() from version 1.5.0 on)
  if (requireNamespace("posterior", quietly = TRUE) &&
      "pareto_smooth" %in% getNamespaceExports("posterior")) return("posterior")
  NULL
}

psis_smooth <- function(log_ratios, backend = psis_backend()) {
  if (is.null(backend)) return(NULL)
  lr <- log_ratios
  lr[!is.finite(lr)] <- -800   # as rstan does: a draw q gives but p rules out gets no weight
  lr <- lr - max(lr)
  if (diff(range(lr)) < 1e-8) {
    # the same ratio for every draw: the guide is the posterior, the tail is bounded
    return(list(khat = -Inf, log_weights = rep(-log(length(lr)), length(lr)), n_eff = length(lr)))
  }
  if (backend == "loo") {
    # loo warns about large k itself; svi_diagnose() explains it in its own words
    ps <- suppressWarnings(loo::psis(lr, r_eff = 1))
    lw <- as.vector(stats::weights(ps, log = TRUE, normalize = TRUE))
    khat <- unname(ps$diagnostics$pareto_k)
  } else {
    smooth <- getExportedValue("posterior", "pareto_smooth")
    ps <- suppressWarnings(smooth(lr, tail = "right", r_eff = 1, are_log_weights = TRUE,
                                  return_k = TRUE, verbose = FALSE))
    lw <- as.vector(ps$x)
    lw <- lw - log_sum_exp(lw)
    khat <- unname(ps$diagnostics$khat)
  }
  list(khat = khat, log_weights = lw, n_eff = 1 / sum(exp(2 * lw)))
}

# Only the k-hat of a functional's ratios (rstan's per-parameter k-hat).
psis_khat <- function(log_ratios, backend) psis_smooth(log_ratios, backend)$khat

log_sum_exp <- function(x) {
  m <- max(x)
  m + log(sum(exp(x - m)))
}

# Reliable below min(1 - 1/log10(S), 0.7) (Vehtari et al. 2024).
psis_threshold <- function(S) min(1 - 1 / log10(S), 0.7)

psis_missing_message <- function() {
  c("Computing k-hat needs the {.pkg loo} package (or {.pkg posterior} >= 1.5.0).",
    i = "Install one with {.code install.packages(\"loo\")}.")
}
