#' @rdname autoguides
#' @export
auto_delta <- function(model, init_loc_fn = init_to_median(), prefix = "auto") {
  check_model(model, "auto_delta")
  check_init_loc_fn(init_loc_fn, "auto_delta")
  new_autoguide("delta", "auto_delta", model, init_loc_fn, emit_auto_delta, list(prefix = prefix))
}

delta_param_name <- function(site, prefix) paste0(site$name, "_", prefix, "_loc")

# MAP in constrained space: a Delta at a parameter constrained to the site's support, with no
# Jacobian (the mode of p(z, y) in the model's own coordinates).
emit_auto_delta <- function(proto, state) {
  out <- list()
  for (site in proto$sites) {
    v <- repeat_rows(site$value, site$full_shape)
    p <- param(delta_param_name(site, state$settings$prefix), v, constraint = site$support)
    out[[site$name]] <- in_site_plates(site, function(rows) {
      sample_site(site$name, dist_delta(take_rows(p, rows), event_dim = site$event_dim))
    })
  }
  invisible(out)
}

autoguide_marginals.svi_autoguide_delta <- function(g, p) {
  st <- autoguide_state(g)
  lapply(st$proto$sites, function(site) {
    v <- p[[delta_param_name(site, st$settings$prefix)]]
    list(value = v)
  })
}
