# Model/guide consistency checks run on every pair of importance traces (pyro-semantics 11).
# Warnings are given once per svi object (the first step that shows them), errors always.

check_model_guide_match <- function(model, guide) {
  m_lat <- names(model)[vapply(model, function(s) identical(s$type, "sample") && !isTRUE(s$is_observed), TRUE)]
  g_smp <- names(guide)[vapply(guide, function(s) identical(s$type, "sample"), TRUE)]
  aux <- g_smp[vapply(guide[g_smp], function(s) isTRUE(s$infer$is_auxiliary), TRUE)]

  bad_aux <- intersect(aux, m_lat)
  if (length(bad_aux)) {
    svi_warn_once("aux", "Found auxiliary vars in the model: {.val {bad_aux}}.")
  }
  extra <- setdiff(setdiff(g_smp, names(model)), aux)
  if (length(extra)) {
    svi_warn_once("guide_only", c(
      "Found non-auxiliary vars in guide but not model: {.val {extra}}.",
      i = "Consider marking them {.code infer = list(is_auxiliary = TRUE)}."
    ))
  }
  missing_in_guide <- setdiff(m_lat, g_smp)
  if (length(missing_in_guide)) {
    svi_warn_once("model_only", c(
      "Found vars in model but not guide: {.val {missing_in_guide}}.",
      i = "They are drawn from the prior at every step, which adds variance and fits nothing."
    ))
  }
  for (nm in intersect(m_lat, g_smp)) {
    ms <- model[[nm]]
    gs <- guide[[nm]]
    me <- dist_event_dim(ms$fn)
    ge <- dist_event_dim(gs$fn)
    if (me != ge) {
      cli::cli_abort("Model and guide event dims disagree at site {.val {nm}}: {me} vs {ge}.", call = NULL)
    }
    mshape <- site_batch_shape(ms)
    gshape <- site_batch_shape(gs)
    if (!identical(mshape, gshape)) {
      cli::cli_abort(
        "Model and guide shapes disagree at site {.val {nm}}: [{paste(mshape, collapse = ', ')}] vs [{paste(gshape, collapse = ', ')}].",
        call = NULL
      )
    }
  }
  m_plates <- names(model)[vapply(model, function(s) identical(s$type, "subsample"), TRUE)]
  g_plates <- names(guide)[vapply(guide, function(s) identical(s$type, "subsample"), TRUE)]
  extra_plates <- setdiff(g_plates, m_plates)
  if (length(extra_plates)) {
    svi_warn_once("guide_plates", "Found plate statements in guide but not model: {.val {extra_plates}}.")
  }
  invisible()
}

# A site's batch shape after broadcasting over its plates (plate dims, then any others).
site_batch_shape <- function(site) {
  bs <- as.integer(dist_batch_shape(site$fn))
  if (length(bs) && prod(bs) == 1L) bs <- integer(0)
  if (!length(bs) && length(site$frames)) bs <- frames_shape(site$frames)
  bs
}

svi_warn_once <- function(key, message, env = parent.frame()) {
  seen <- .svi$warned
  if (!is.null(seen)) {
    if (isTRUE(seen[[key]])) return(invisible())
    seen[[key]] <- TRUE
  }
  cli::cli_warn(message, .envir = env)
}
