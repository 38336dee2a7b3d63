# Flattened guides (autoguides spec section 4, AutoContinuous): every latent's free
# unconstrained coordinates concatenated into one vector u of length D, drawn at the auxiliary
# site "_<prefix>_latent"; each site then reads its block, maps it through its support's
# bijection and is emitted as a Delta carrying -log|det J|.

#' @rdname autoguides
#' @export
auto_diagonal_normal <- function(model, init_loc_fn = init_to_median(), init_scale = 0.1, prefix = "auto") {
  new_continuous_guide("diagonal_normal", "auto_diagonal_normal", model, init_loc_fn, init_scale, prefix)
}

#' @rdname autoguides
#' @export
auto_mvnormal <- function(model, init_loc_fn = init_to_median(), init_scale = 0.1, prefix = "auto") {
  new_continuous_guide("mvnormal", "auto_mvnormal", model, init_loc_fn, init_scale, prefix)
}

#' @rdname autoguides
#' @export
auto_lowrank_mvnormal <- function(model, init_loc_fn = init_to_median(), init_scale = 0.1, rank = NULL,
                                  prefix = "auto") {
  if (!is.null(rank)) rank <- check_count(rank, "rank", where = " of `auto_lowrank_mvnormal()`")
  new_continuous_guide("lowrank_mvnormal", "auto_lowrank_mvnormal", model, init_loc_fn, init_scale, prefix,
                       list(rank = rank))
}

new_continuous_guide <- function(kind, fn, model, init_loc_fn, init_scale, prefix, extra = list()) {
  check_model(model, fn)
  check_init_loc_fn(init_loc_fn, fn)
  check_init_scale(init_scale, fn)
  g <- new_autoguide(kind, fn, model, init_loc_fn, emit_continuous,
                     c(list(init_scale = init_scale, prefix = prefix), extra))
  st <- autoguide_state(g)
  st$on_build <- function(state) {
    continuous_on_build(state)
    if (kind == "lowrank_mvnormal") {
      state$rank <- if (is.null(state$settings$rank)) max(1L, round(sqrt(state$D))) else as.integer(state$settings$rank)
    }
  }
  g
}

# The flattened vector u: each site's block, its length D and its initial value.
continuous_on_build <- function(state) {
  state$blocks <- latent_blocks(state$proto$sites, state$guide_name)
  state$D <- sum(lengths(state$blocks))
  state$init_u <- unlist(lapply(state$proto$sites, function(s) as.vector(s$u)), use.names = FALSE)
  # coordinates named after the sites' elements when the user named any of them
  if (!all(vapply(state$proto$sites, function(s) is.null(s$value_names), TRUE))) {
    names(state$init_u) <- coordinate_names(state$proto$sites)
  }
}

# Flattened guides: positions of each site's block in the latent vector.
latent_blocks <- function(sites, guide_name) {
  for (s in sites) {
    if (s$subsampled) {
      cli::cli_abort(c(
        "{.fn {guide_name}} cannot guide the local latent site {.val {s$name}} in a subsampled plate.",
        x = "A flattened guide has one fixed-length vector, so its coordinates would describe different data points at every step.",
        i = "Use {.fn auto_normal}, which keeps parameters for every element of the plate and reads the minibatch's rows."
      ), call = NULL)
    }
  }
  lens <- vapply(sites, function(s) length(s$u), 1L)
  ends <- cumsum(lens)
  Map(function(e, l) seq.int(e - l + 1L, length.out = l), ends, lens)
}

# Element names of a site's free coordinates, for messages and the flattened loc ("w[2]", or
# "w[woolB]" from the names the user gave the site).
coordinate_names <- function(sites) {
  unlist(lapply(sites, function(s) {
    n <- length(s$u)
    if (!is.null(value_names_of(s$u))) return(value_element_names(s$name, s$u, shape_of(s$u)))
    if (n == 1L) s$name else paste0(s$name, "[", seq_len(n), "]")
  }), use.names = FALSE)
}

continuous_names <- function(prefix) {
  c(loc = paste0(prefix, "_loc"), scale = paste0(prefix, "_scale"), scale_tril = paste0(prefix, "_scale_tril"),
    cov_factor = paste0(prefix, "_cov_factor"), latent = paste0("_", prefix, "_latent"))
}

# The distribution of u, from the guide's parameters.
continuous_q <- function(state) {
  nm <- continuous_names(state$settings$prefix)
  D <- state$D
  s0 <- state$settings$init_scale
  loc <- param(nm[["loc"]], state$init_u)
  switch(state$kind,
    diagonal_normal = {
      scale <- param(nm[["scale"]], rep(s0, D), constraint = constraint_softplus_positive())
      dist_normal(loc, scale)
    },
    mvnormal = {
      scale <- param(nm[["scale"]], rep(s0, D), constraint = constraint_softplus_positive())
      tril <- param(nm[["scale_tril"]], diag(D), constraint = constraint_unit_lower_cholesky())
      dist_mvnormal(loc, scale_tril = scale_rows(tril, scale, D))
    },
    lowrank_mvnormal = {
      r <- state$rank
      # sqrt(0.5): the initial marginal variance is init_scale^2 despite the random factor
      scale <- param(nm[["scale"]], rep(sqrt(0.5) * s0, D), constraint = constraint_softplus_positive())
      w <- param(nm[["cov_factor"]], function() matrix(stats::rnorm(D * r, 0, 1 / sqrt(r)), D, r))
      dist_mvnormal(loc, cov = lowrank_cov(w, scale, D))
    })
}

# diag(scale) %*% m, for a handle or numeric `scale` of length D.
scale_rows <- function(m, scale, D) {
  s <- scale
  dim(s) <- c(D, 1L)
  m * (s %*% matrix(1, 1L, D))
}

# S (W W' + I) S with S = diag(scale).
lowrank_cov <- function(w, scale, D) {
  s <- scale
  dim(s) <- c(D, 1L)
  (s %*% t(s)) * (w %*% t(w) + diag(D))
}

emit_continuous <- function(proto, state) {
  nm <- continuous_names(state$settings$prefix)
  u <- sample_site(nm[["latent"]], continuous_q(state), infer = list(is_auxiliary = TRUE))
  emit_blocks(proto, state, u)
}

# Each site's block of u, through its bijection, inside its (full-size) plates.
emit_blocks <- function(proto, state, u) {
  out <- list()
  for (k in seq_along(proto$sites)) {
    site <- proto$sites[[k]]
    idx <- state$blocks[[k]]
    x <- if (length(idx) == state$D) u else u[idx]
    out[[site$name]] <- in_site_plates(site, function(rows) emit_site_delta(site, x))
  }
  invisible(out)
}

# Unconstrained marginal (loc, scale) of each site's free coordinates.
continuous_marginals <- function(state, loc, sd) {
  lapply(seq_along(state$proto$sites), function(k) {
    site <- state$proto$sites[[k]]
    idx <- state$blocks[[k]]
    list(loc = reshape_free(site, loc[idx]), scale = reshape_free(site, sd[idx]))
  })
}
reshape_free <- function(site, v) {
  if (is.null(site$free) && length(site$u_shape) > 1L) dim(v) <- site$u_shape
  v
}

autoguide_marginals.svi_autoguide_diagonal_normal <- function(g, p) {
  st <- autoguide_state(g)
  nm <- continuous_names(st$settings$prefix)
  stats::setNames(continuous_marginals(st, p[[nm[["loc"]]]], p[[nm[["scale"]]]]), names(st$proto$sites))
}

autoguide_marginals.svi_autoguide_mvnormal <- function(g, p) {
  st <- autoguide_state(g)
  nm <- continuous_names(st$settings$prefix)
  L <- scale_rows(p[[nm[["scale_tril"]]]], p[[nm[["scale"]]]], st$D)
  stats::setNames(continuous_marginals(st, p[[nm[["loc"]]]], sqrt(rowSums(L^2))), names(st$proto$sites))
}

autoguide_marginals.svi_autoguide_lowrank_mvnormal <- function(g, p) {
  st <- autoguide_state(g)
  nm <- continuous_names(st$settings$prefix)
  w <- p[[nm[["cov_factor"]]]]
  sd <- p[[nm[["scale"]]]] * sqrt(rowSums(w^2) + 1)
  stats::setNames(continuous_marginals(st, p[[nm[["loc"]]]], sd), names(st$proto$sites))
}

# The covariance of u, for users who want the full approximation.
autoguide_covariance <- function(g, p) {
  st <- autoguide_state(g)
  nm <- continuous_names(st$settings$prefix)
  switch(st$kind,
    diagonal_normal = diag(p[[nm[["scale"]]]]^2, st$D),
    mvnormal = {
      L <- scale_rows(p[[nm[["scale_tril"]]]], p[[nm[["scale"]]]], st$D)
      L %*% t(L)
    },
    lowrank_mvnormal = lowrank_cov(p[[nm[["cov_factor"]]]], p[[nm[["scale"]]]], st$D),
    laplace_mvn = st$cov,
    cli::cli_abort("{.fn {st$guide_name}} has no covariance matrix.", call = NULL))
}
