# The prototype trace every autoguide is built from (autoguides spec section 1): one run of the
# model with an init strategy, recording each latent site's distribution, support, shape and
# plates, and the coordinates the guide works in (the site's free unconstrained values).

# Runs `expr` as if no inference were under way: no handlers, no step context, and a scratch
# tape (from value_and_grad()) so that nothing is recorded on a step's tape. An autoguide
# builds its prototype on its first call, which usually happens inside the first step; this is
# the one place where autoguides touch the handler state of R/handlers.R.
outside_inference <- function(expr) {
  out <- NULL
  outside_inference_grad(function(x) {
    out <<- expr
    0
  }, 0)
  out
}
# value_and_grad(f, x) in that state: f's tape is the scratch tape.
outside_inference_grad <- function(f, x) {
  keep <- c("stack", "frames", "batch", "scale", "plain")
  old <- mget(keep, envir = .svi)
  .svi$stack <- list()
  .svi$frames <- list()
  .svi$batch <- integer(0)
  .svi$scale <- 1
  .svi$plain <- TRUE
  on.exit(list2env(old, envir = .svi), add = TRUE)
  with_plain_ctx(new_param_store(), value_and_grad(f, x))
}

# Plain numerics from values that may be tensor handles (a compiled step passes its data as
# constant tensors; values drawn at hidden sites are handles of the scratch tape).
plain_value <- function(x) {
  if (is_tensor(x)) return(tensor_value(x))
  if (is.list(x) && !is.object(x)) return(lapply(x, plain_value))
  x
}
plain_dist <- function(d) {
  for (k in seq_along(d)) d[[k]] <- plain_value(d[[k]])
  d
}

# Supports whose transform acts element by element and is monotone: quantiles map through it.
elementwise_support <- function(c) c$event_dim == 0L || inherits(c, "svi_constraint_real")
support_kind_name <- function(c) sub("^svi_constraint_", "", class(c)[1])

# One run of `model` in which every latent site takes the value `choose(site)` gives it.
# Returns the latent sites (in order), the observed sites, as messages, and the minibatch
# indices of every subsampled plate; `subsample` (from an earlier run) replays those indices.
prototype_run <- function(model, args, choose, guide_name, subsample = list()) {
  rec <- prototype_record(model, args, choose, guide_name, subsample, keep = FALSE)
  outside_inference(rec$run())
  rec
}

# The handler of a prototype run and the record it fills; rec$run() runs the model under it
# (in the caller's tape state). keep = TRUE leaves values and parameters as they are (tensor
# handles when `choose` returns handles), so log-densities can be differentiated; the
# bijection is then still taken from the plain distribution's support.
prototype_record <- function(model, args, choose, guide_name, subsample, keep) {
  rec <- new.env(parent = emptyenv())
  rec$latent <- list()
  rec$observed <- list()
  rec$subsample <- list()
  h <- new_handler("autoguide_prototype",
    process = function(msg) {
      if (identical(msg$type, "subsample")) {
        if (is.null(msg$value)) msg$value <- subsample[[msg$name]]
        return(msg)
      }
      if (!identical(msg$type, "sample") || isTRUE(msg$is_observed)) return(msg)
      if (!keep) msg$fn <- plain_dist(msg$fn)
      d <- site_dist(msg)
      sup <- support(if (keep) plain_dist(d) else d)
      if (is.na(sup$kind)) discrete_latent_error(msg$name, d, guide_name)
      msg$value <- choose(list(name = msg$name, fn = d, support = sup, frames = msg$frames))
      msg$done <- TRUE
      msg
    },
    postprocess = function(msg) {
      if (identical(msg$type, "subsample")) rec$subsample[[msg$name]] <- msg$value
      if (identical(msg$type, "sample")) {
        if (!keep) {
          msg$value <- plain_value(msg$value)
          msg$fn <- plain_dist(msg$fn)
        }
        if (isTRUE(msg$is_observed)) rec$observed[[msg$name]] <- msg else rec$latent[[msg$name]] <- msg
      }
      msg
    })
  rec$run <- function() with_handler(h, do.call(model, plain_value(args)))
  rec
}

discrete_latent_error <- function(name, d, guide_name) {
  cli::cli_abort(c(
    "{.fn {guide_name}} cannot handle the discrete latent site {.val {name}} ({.fn {paste0('dist_', dist_name(d))}}).",
    i = "Continuous guides have no bijection for a discrete support.",
    i = "Hide it from the autoguide with {.code block(model, hide = \"{name}\")} and give it a hand-written guide part (see {.fn auto_guide_list}), fitted with {.fn tracegraph_elbo}."
  ), call = NULL)
}

# Builds the prototype: init values (retried while the log joint is not finite), the shapes
# and plates of every latent site, and the checks that make the anchors' silent failures loud.
autoguide_prototype <- function(model, args, init_loc_fn, guide_name) {
  tries <- 100L
  for (k in seq_len(tries)) {
    rec <- prototype_run(model, args, function(site) init_site_value(init_loc_fn, site), guide_name)
    bad <- nonfinite_sites(rec)
    bad_grad <- if (!length(bad)) nonfinite_gradient_sites(model, args, rec, guide_name) else character(0)
    if (!length(bad) && !length(bad_grad)) break
  }
  if (length(bad) || length(bad_grad)) {
    cli::cli_abort(c(
      "{.fn {guide_name}} cannot find valid initial values after {tries} tries.",
      x = if (length(bad)) "The log-density is not finite at site{?s} {.val {bad}}.",
      x = if (length(bad_grad)) "The log-density is finite, but its gradient with respect to latent site{?s} {.val {bad_grad}} (in unconstrained space) is not.",
      i = "Check the model, or give starting values with {.code init_loc_fn = init_to_value(list(...))}."
    ), call = NULL)
  }
  if (!length(rec$latent)) {
    cli::cli_abort(c(
      "{.fn {guide_name}} found no latent sample sites in the model.",
      i = "Without latent variables there is nothing to guide: use an empty guide, {.code function(...) NULL}."
    ), call = NULL)
  }
  check_static_supports(model, args, rec, guide_name)
  sites <- lapply(rec$latent, prototype_site)
  structure(list(sites = sites, guide_name = guide_name), class = "svi_autoguide_prototype")
}

nonfinite_sites <- function(rec) {
  all <- c(rec$latent, rec$observed)
  ok <- vapply(all, function(s) {
    lp <- tryCatch(sum(plain_value(site_log_prob(s))), error = function(e) NaN)
    is.finite(lp)
  }, TRUE)
  names(all)[!ok]
}

# The latent sites (of a run whose log-density is finite) at which the gradient of the
# potential energy -- the log joint of the model, with each latent the bijection of its
# unconstrained value, plus the log-Jacobians -- is not finite: the model run again on the
# tape, at the same values and minibatches.
nonfinite_gradient_sites <- function(model, args, rec, guide_name) {
  u0 <- lapply(rec$latent, function(s) constraint_inverse(support(site_dist(s)), s$value))
  res <- tryCatch(outside_inference_grad(function(u) {
    ldj <- 0
    run <- prototype_record(model, args, function(site) {
      x <- u[[site$name]]
      if (is.null(x)) return(init_site_value(init_to_feasible(), site))   # a site new in this run
      ldj <<- ldj + constraint_log_det_jacobian(site$support, x)
      constraint_forward(site$support, x)
    }, guide_name, rec$subsample, keep = TRUE)
    run$run()
    lp <- ldj
    for (s in c(run$latent, run$observed)) lp <- lp + sum(site_log_prob(s))
    lp
  }, u0), error = function(e) NULL)
  if (is.null(res)) return(character(0))   # not differentiable here: the value check decides
  ok <- vapply(res$grad, function(g) all(is.finite(g)), TRUE)
  if (!is.finite(res$value)) ok[] <- FALSE
  names(u0)[!ok]
}

# A support whose bounds depend on another latent (dist_uniform(0, theta)) cannot be handled
# by a fixed bijection: run the model again, on the same minibatches, with every latent moved
# in unconstrained space and see whether any bounds move.
check_static_supports <- function(model, args, rec, guide_name) {
  first <- rec$latent
  # a run with the latents named in `move` shifted in unconstrained space, the others kept
  run_moved <- function(move) {
    prototype_run(model, args, function(site) {
      old <- first[[site$name]]
      if (is.null(old)) return(init_site_value(init_to_feasible(), site))
      u <- constraint_inverse(support(old$fn), old$value)
      constraint_forward(site$support, if (site$name %in% move) u + 0.37 else u)
    }, guide_name, subsample = rec$subsample)
  }
  moved <- function(nm, rec2) {
    s2 <- rec2$latent[[nm]]
    if (is.null(s2)) return(FALSE)
    a <- support(first[[nm]]$fn)
    b <- support(s2$fn)
    !isTRUE(all.equal(c(a$lower, a$upper), c(b$lower, b$upper)))
  }
  rec2 <- run_moved(names(first))
  for (nm in names(first)) {
    if (!moved(nm, rec2)) next
    # which latents it depends on: move them one at a time (only on this error path)
    others <- setdiff(names(first), nm)
    culprits <- Filter(function(o) moved(nm, run_moved(o)), others)
    if (!length(culprits)) culprits <- others
    a <- support(first[[nm]]$fn)
    b <- support(rec2$latent[[nm]]$fn)
    on <- if (length(culprits)) cli::format_inline("{cli::qty(length(culprits))}latent site{?s} {.val {culprits}}") else "the run of the model"
    when <- if (length(culprits) == 1L) "When it moved" else if (length(culprits)) "When they moved" else "In another run"
    cli::cli_abort(c(
      "The support of latent site {.val {nm}} ({a$label}) depends on {on}.",
      x = "{when}, its bounds moved to {b$label}: no fixed bijection describes it, and {.fn {guide_name}} would be silently wrong.",
      i = "Reparameterize: sample a variable with fixed support and transform it, e.g. {.code u <- sample_site(\"{nm}_raw\", dist_uniform(0, 1))} and use {.code lower + (upper - lower) * u} in place of {.val {nm}}."
    ), call = NULL)
  }
}

# What a guide needs to know about one latent site.
prototype_site <- function(msg) {
  d <- site_dist(msg)
  sup <- support(d)
  value <- msg$value
  u <- constraint_inverse(sup, value)
  frames <- msg$frames
  shape <- if (is.null(dim(value))) length(value) else dim(value)
  full <- shape
  sub <- integer(0)
  for (f in frames) {
    if (f$size < f$full_size) {
      sub <- c(sub, f$dim)
      full[f$dim] <- f$full_size
    }
  }
  kind <- support_kind_name(sup)
  matrix_site <- sup$event_dim == 2L
  if (matrix_site && length(frames)) {
    cli::cli_abort("Autoguides do not support the matrix-valued site {.val {msg$name}} inside plates.", call = NULL)
  }
  if (length(sub) && (length(sub) > 1L || sub != 1L || length(shape) > 2L)) {
    cli::cli_abort(c(
      "Autoguides support subsampling only in the outermost plate of a site, with at most one dimension besides it.",
      x = "Site {.val {msg$name}} is subsampled in plate dimension{?s} {sub}."
    ), call = NULL)
  }
  if (length(sub) && (length(sup$lower) > 1L || length(sup$upper) > 1L)) {
    cli::cli_abort("The bounds of subsampled site {.val {msg$name}} vary by element; autoguides need scalar bounds there.", call = NULL)
  }
  # element names the user gave the model's site (names of its distribution's parameters),
  # kept for draws and summaries; not for subsampled sites, whose rows change
  value_names <- if (length(sub)) NULL else value_names_of(named_like_dist(value, d))
  # free unconstrained coordinates: for matrix supports only the entries the transform reads
  free <- if (matrix_site) matrix_free_index(sup, nrow(value)) else NULL
  u_free <- if (matrix_site) u[free] else with_value_names(u, value_names)
  u_full_shape <- full_u_shape(u_free, shape, full)
  list(
    name = msg$name, dist = d, support = sup, kind = kind, event_dim = sup$event_dim,
    value = value, shape = shape, full_shape = full, frames = frames, subsampled = length(sub) > 0L,
    u = u_free, u_shape = if (is.null(dim(u_free))) length(u_free) else dim(u_free),
    u_full = repeat_rows(u_free, u_full_shape), u_full_shape = u_full_shape,
    free = free, dim = if (matrix_site) nrow(value) else NULL,
    elementwise = elementwise_support(sup), value_names = value_names
  )
}

# Names (a character vector) or dimnames (a list) of a value, or NULL.
value_names_of <- function(v) if (!is.null(dimnames(v))) dimnames(v) else names(v)
# `x` with the element names `nms` (from value_names_of()) when its shape fits them; tensor
# handles carry no names and are returned as they are.
with_value_names <- function(x, nms) {
  if (is.null(nms) || is_tensor(x)) return(x)
  if (is.list(nms)) {
    d <- dim(x)
    if (length(d) == length(nms) && all(d == lengths(nms) | vapply(nms, is.null, TRUE))) dimnames(x) <- nms
  } else if (is.null(dim(x)) && length(x) == length(nms)) {
    names(x) <- nms
  }
  x
}

full_u_shape <- function(u, shape, full) {
  s <- if (is.null(dim(u))) length(u) else dim(u)
  if (identical(as.integer(shape), as.integer(full))) return(s)
  s[1] <- full[1]
  s
}

# Initial values of a minibatch repeated periodically along the plate dim up to its full size.
repeat_rows <- function(x, full) {
  s <- if (is.null(dim(x))) length(x) else dim(x)
  if (identical(as.integer(s), as.integer(full))) return(x)
  if (is.null(dim(x))) return(rep_len(x, full))
  x[rep_len(seq_len(s[1]), full[1]), , drop = FALSE]
}

# Column-major positions of the free entries of a D x D unconstrained matrix: the lower
# triangle with the diagonal (lower Cholesky, positive definite) or without it (correlation
# Cholesky).
matrix_free_index <- function(sup, D) {
  m <- matrix(seq_len(D * D), D, D)
  if (inherits(sup, "svi_constraint_corr_cholesky")) m[lower.tri(m)] else m[lower.tri(m, diag = TRUE)]
}
