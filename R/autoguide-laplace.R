# Laplace approximation (autoguides spec section 4 "Laplace", section 10): MAP in unconstrained
# space with auto_laplace(), then laplace_approximation() takes the Hessian of the
# unconstrained negative log joint at the mode by central differences of the tape's gradients
# and returns an svi object whose guide is the normal N(mode, H^-1).

#' Laplace approximation
#'
#' `auto_laplace(model)` is a point-mass guide on the flattened unconstrained latents (the
#' parameter `auto_loc`): fitting it finds the mode of the model's log joint in unconstrained
#' space, Jacobian included. `laplace_approximation(s, ...)` then computes the Hessian `H` of
#' the negative log joint at that mode, by central finite differences (step `step`) of the
#' exact gradients the tape gives, and returns a new svi object (same model, optimizer and
#' loss; a copy of the parameters) whose guide draws the latents from the multivariate normal
#' `N(mode, H^-1)` in unconstrained space. That guide has no parameters of its own: use it with
#' [posterior_draws()], [predictive()], [median()][median.svi] and [quantile()][quantile.svi].
#'
#' If `H` is singular or indefinite -- the mode is not a strict maximum, e.g. the data do not
#' identify some combination of latents, or the fit has not converged -- the result is an
#' error that names the sites along the flat or downhill directions.
#'
#' @inheritParams autoguides
#' @param s An svi object or fit whose guide is `auto_laplace()`.
#' @param ... The model's arguments (a fit reuses its own when none are given).
#' @param step Finite-difference step in unconstrained space.
#' @return `auto_laplace()`: a guide function. `laplace_approximation()`: an svi object.
#' @examples
#' model <- function(y) {
#'   mu <- sample_site("mu", dist_normal(0, 10))
#'   sigma <- sample_site("sigma", dist_half_normal(2))
#'   plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, sigma), obs = y))
#' }
#' set.seed(1)
#' y <- rnorm(30, 2, 0.5)
#' s <- svi(model, auto_laplace(model), adam(0.05))
#' for (i in 1:500) svi_step(s, y)
#' lap <- laplace_approximation(s, y)
#' quantile(lap, y = y)
#' @export
auto_laplace <- function(model, init_loc_fn = init_to_median(), prefix = "auto") {
  check_model(model, "auto_laplace")
  check_init_loc_fn(init_loc_fn, "auto_laplace")
  g <- new_autoguide("laplace", "auto_laplace", model, init_loc_fn, emit_laplace, list(prefix = prefix))
  st <- autoguide_state(g)
  st$on_build <- continuous_on_build
  g
}

emit_laplace <- function(proto, state) {
  nm <- continuous_names(state$settings$prefix)
  loc <- param(nm[["loc"]], state$init_u)
  u <- sample_site(nm[["latent"]], dist_delta(loc, event_dim = 1L), infer = list(is_auxiliary = TRUE))
  emit_blocks(proto, state, u)
}

autoguide_marginals.svi_autoguide_laplace <- function(g, p) {
  st <- autoguide_state(g)
  loc <- p[[continuous_names(st$settings$prefix)[["loc"]]]]
  m <- continuous_marginals(st, loc, rep(NA_real_, st$D))
  stats::setNames(lapply(m, function(x) list(loc = x$loc, scale = NULL, mode_only = TRUE)), names(st$proto$sites))
}

#' @rdname auto_laplace
#' @export
laplace_approximation <- function(s, ..., step = 1e-4) {
  args <- list(...)
  if (inherits(s, "svi_fit")) {
    if (!length(args)) args <- s$args
    store <- fit_store(s)
    s <- s$svi
  } else if (inherits(s, "svi")) {
    store <- copy_store(s$store)
  } else {
    cli::cli_abort("{.arg s} must be an svi object or fit whose guide is {.fn auto_laplace}.")
  }
  g <- s$guide
  if (!inherits(g, "svi_autoguide_laplace")) {
    cli::cli_abort(c(
      "{.fn laplace_approximation} needs an svi object whose guide is {.fn auto_laplace}.",
      i = "Fit {.code svi(model, auto_laplace(model), ...)} first: the approximation is taken at its mode."
    ))
  }
  if (!is.numeric(step) || length(step) != 1L || is.na(step) || step <= 0) {
    cli::cli_abort("{.arg step} must be a positive number.")
  }
  st <- autoguide_state(g)
  autoguide_ensure_built(g, args)
  nm <- continuous_names(st$settings$prefix)[["loc"]]
  mode <- store$values[[nm]]
  if (is.null(mode)) cli::cli_abort("The guide has not been fitted yet: take some steps first.")
  grad_at <- function(u) {
    store$values[[nm]] <- u
    res <- do.call(elbo_loss_and_grads, c(list(trace_elbo(), s$model, g), args, list(store = store)))
    as.vector(res$grads[[nm]])
  }
  D <- length(mode)
  H <- matrix(0, D, D)
  for (i in seq_len(D)) {
    e <- numeric(D)
    e[i] <- step
    H[, i] <- (grad_at(mode + e) - grad_at(mode - e)) / (2 * step)
  }
  store$values[[nm]] <- mode
  H <- (H + t(H)) / 2
  check_hessian(H, st$proto$sites)
  cov <- chol2inv(chol(H))
  lap <- laplace_mvn_guide(g, mode, cov)
  svi(s$model, lap, s$optim, s$loss, store = store)
}

copy_store <- function(store) {
  out <- new_param_store()
  out$values <- store$values
  out$constraints <- store$constraints
  out
}

# A singular or indefinite Hessian: name the sites along the directions that are not curved up.
check_hessian <- function(H, sites) {
  ev <- eigen(H, symmetric = TRUE)
  tol <- sqrt(.Machine$double.eps) * max(1, abs(ev$values))
  bad <- which(!(ev$values > tol))
  if (!length(bad)) return(invisible())
  coords <- coordinate_names(sites)
  site_of <- rep(names(sites), vapply(sites, function(s) length(s$u), 1L))
  involved <- unique(unlist(lapply(bad, function(k) {
    v <- abs(ev$vectors[, k])
    site_of[v >= 0.3 * max(v)]
  })))
  cli::cli_abort(c(
    "The Hessian of the negative log joint at the mode is not positive definite, so there is no Laplace approximation.",
    x = "{length(bad)} direction{?s} {?is/are} flat or curved downwards (smallest eigenvalue {format(min(ev$values), digits = 3)}), involving {cli::qty(length(involved))}site{?s} {.val {involved}}.",
    i = "The data may not identify these sites (add an informative prior), or the fit has not reached the mode (take more steps); {.fn auto_normal} needs no Hessian."
  ), call = NULL)
}

# The guide N(mode, cov) on the flattened unconstrained latents: constants, no parameters.
laplace_mvn_guide <- function(g, mode, cov) {
  st <- autoguide_state(g)
  state <- new.env(parent = emptyenv())
  for (nm in c("model", "init_loc_fn", "settings", "proto", "blocks", "D", "init_u")) assign(nm, st[[nm]], envir = state)
  state$kind <- "laplace_mvn"
  state$guide_name <- "laplace_approximation"
  state$loc <- mode
  state$cov <- cov
  state$scale_tril <- t(chol(cov))
  guide <- function(...) {
    nm <- continuous_names(state$settings$prefix)
    u <- sample_site(nm[["latent"]], dist_mvnormal(state$loc, scale_tril = state$scale_tril),
                     infer = list(is_auxiliary = TRUE))
    emit_blocks(state$proto, state, u)
  }
  structure(guide, class = c("svi_autoguide_laplace_mvn", "svi_autoguide", "function"), state = state)
}

autoguide_marginals.svi_autoguide_laplace_mvn <- function(g, p) {
  st <- autoguide_state(g)
  stats::setNames(continuous_marginals(st, st$loc, sqrt(diag(st$cov))), names(st$proto$sites))
}
