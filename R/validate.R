# Model/guide consistency checks run on every pair of importance traces (pyro-semantics 11).
# Warnings are given once per svi object (the first step that shows them), errors always.

check_model_guide_match <- function(model, guide, m_types = site_types(model),
                                    g_types = site_types(guide)) {
  m_smp <- names(model)[m_types == "sample"]
  m_obs <- vapply(model[m_smp], function(s) s$is_observed, TRUE)
  m_lat <- m_smp[!m_obs]
  g_smp <- names(guide)[g_types == "sample"]
  aux <- g_smp[vapply(guide[g_smp], function(s) isTRUE(s$infer$is_auxiliary), TRUE)]

  if (length(aux)) {
    bad_aux <- intersect(aux, m_lat)
    if (length(bad_aux)) svi_warn_once("aux", "Found auxiliary vars in the model: {.val {bad_aux}}.")
  }
  in_model <- g_smp %in% names(model)
  if (!all(in_model)) {
    extra <- setdiff(g_smp[!in_model], aux)
    if (length(extra)) {
      svi_warn_once("guide_only", c(
        "Found non-auxiliary vars in guide but not model: {.val {extra}}.",
        i = "Consider marking them {.code infer = list(is_auxiliary = TRUE)}."
      ))
    }
  }
  in_guide <- m_lat %in% g_smp
  if (!all(in_guide)) {
    svi_warn_once("model_only", c(
      "Found vars in model but not guide: {.val {m_lat[!in_guide]}}.",
      i = "They are drawn from the prior at every step, which adds variance and fits nothing."
    ))
  }
  for (nm in m_lat[in_guide]) {
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
  # no ELBO of svi enumerates, so a site asking for it is sampled like any other: say so
  enumerated <- c(g_smp[vapply(guide[g_smp], function(s) !is.null(s$infer$enumerate), TRUE)],
                  setdiff(m_lat[vapply(model[m_lat], function(s) !is.null(s$infer$enumerate), TRUE)], g_smp))
  if (length(enumerated)) {
    svi_warn_once("enumerate", c(
      "Site{?s} {.val {enumerated}} ask{?s/} for enumeration ({.code infer$enumerate}), but no ELBO of svi enumerates: {?it is/they are} sampled.",
      i = "Remove the option, or marginalize the discrete variables out of the model by hand."
    ))
  }
  g_plates <- names(guide)[g_types == "subsample"]
  extra_plates <- g_plates[!g_plates %in% names(model)[m_types == "subsample"]]
  if (length(extra_plates)) {
    svi_warn_once("guide_plates", "Found plate statements in guide but not model: {.val {extra_plates}}.")
  }
  invisible()
}

site_types <- function(sites) vapply(sites, function(s) s$type, "")

# A site's batch shape after broadcasting over its plates (plate dims, then any others).
site_batch_shape <- function(site) {
  bs <- as.integer(dist_batch_shape(site$fn))
  if (length(bs) && prod(bs) == 1L) bs <- integer(0)
  if (!length(bs) && length(site$frames)) bs <- site_plate_shape(site)
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
