# What every ELBO shares: importance traces (guide, then the model replayed on the guide's
# values), per-site log-densities with scale and mask, and the particle loop.

# Runs guide then the replayed model; returns list(model = sites, guide = sites).
importance_traces <- function(model, guide, args) {
  g <- run_traced(guide, args)
  trace_h <- new_trace_handler()
  with_handlers(list(trace_h, new_replay_handler(g$sites)), do.call(model, args))
  checked_traces(trace_h$rec, g)
}

# The sample sites of a model trace and a guide trace (records with $sites and $types), after
# the model/guide consistency checks. The checks run once per structure and svi object: the
# key covers everything they look at.
checked_traces <- function(m, g) {
  m_sites <- m$sites
  g_sites <- g$sites
  m_types <- m$types
  g_types <- g$types
  seen <- .svi$warned
  if (is.null(seen)) {
    check_model_guide_match(m_sites, g_sites, m_types, g_types)
  } else {
    key <- .Call(`_svi_cpp_sites_key`, m_sites, g_sites)
    if (!identical(key, seen$.checked_structure)) {
      check_model_guide_match(m_sites, g_sites, m_types, g_types)
      seen$.checked_structure <- key
    }
  }
  list(model = m_sites[m_types == "sample"], guide = g_sites[g_types == "sample"])
}

sample_sites <- function(sites) Filter(function(s) identical(s$type, "sample"), sites)

# The distribution to draw a site from: expanded to the plates' batch shape when its own
# batch shape is smaller (e.g. scalar parameters inside a plate).
site_dist <- function(msg) {
  target <- site_plate_shape(msg)
  if (!length(target)) return(msg$fn)
  bs <- as.integer(dist_batch_shape(msg$fn))
  k <- length(target)
  if (length(bs) >= k && identical(bs[seq_len(k)], target)) return(msg$fn)
  if (!length(bs) || prod(bs) == 1) return(dist_expand(msg$fn, target))
  plates <- paste(vapply(msg$frames, function(f) f$name, ""), collapse = ", ")
  cli::cli_abort(c(
    "Shape mismatch at site {.val {msg$name}} inside plate{?s} {plates}.",
    x = "The distribution's batch shape is [{paste(bs, collapse = ', ')}] but the plates need [{paste(target, collapse = ', ')}]."
  ), call = NULL)
}

# Unscaled log-density of a site with one element per plate element: dimensions beyond the
# plates' are event dimensions and are summed (plate dims come first, as rows of data do).
site_log_prob_raw <- function(site) finish_log_prob(site, dist_log_prob(site$fn, site$value))

finish_log_prob <- function(site, lp) {
  target <- site_plate_shape(site)
  shape <- .Call(`_svi_cpp_value_shape`, lp)   # one call for numerics and handles alike
  if (is.null(shape)) shape <- if (is.null(dim(lp))) length(lp) else dim(lp)
  n_target <- prod(target)
  if (prod(shape) == n_target) {
    if (length(target) > 1L && !identical(as.integer(shape), target)) dim(lp) <- target
    return(lp)
  }
  if (!length(target)) return(sum(lp))
  if (prod(shape) == 1) {
    # a scalar density inside plates: the distribution broadcasts over them, as in Pyro
    return(lp + if (length(target) == 1L) numeric(target) else array(0, target))
  }
  k <- length(target)
  if (length(shape) > k && identical(as.integer(shape[seq_len(k)]), target)) {
    dim(lp) <- c(n_target, prod(shape) / n_target)
    lp <- rowSums_any(lp)
    if (k > 1L) dim(lp) <- target
    return(lp)
  }
  cli::cli_abort(c(
    "Invalid log-density shape at site {.val {site$name}}.",
    x = "Its plates need [{paste(target, collapse = ', ')}] (then any event dims), got [{paste(shape, collapse = ', ')}].",
    i = "Put batched data inside {.fn plate}, with the plate's dimension first."
  ), call = NULL)
}

rowSums_any <- function(x) {
  if (is_tensor(x)) .Call(`_svi_cpp_tensor_reduce`, x, "sum", 1L) else rowSums(x)
}

scale_and_mask <- function(lp, scale, mask) {
  if (!is.null(mask)) {
    if (isFALSE(mask) && length(mask) == 1L) {
      lp <- lp * 0
    } else if (!isTRUE(all(mask))) {
      lp <- if (is_tensor(lp)) .Call(`_svi_cpp_tensor_mask`, lp, mask) else ifelse(mask, lp, 0)
    }
  }
  if (length(scale) != 1L || scale != 1) lp <- lp * scale
  lp
}

# Scaled and masked log-density of a site (a handle on a recording tape, else numeric).
site_log_prob <- function(site) {
  if (is.null(site$mask)) {
    lp <- .Call(`_svi_cpp_site_log_prob`, site)
    if (!is.null(lp)) {
      if (!is.list(lp)) return(lp)   # the common case, done in C++
      return(scale_and_mask(finish_log_prob(site, lp[[1L]]), site$scale, NULL))
    }
  }
  scale_and_mask(site_log_prob_raw(site), site$scale, site$mask)
}

value_of <- function(x) if (is_tensor(x)) as.vector(.Call(`_svi_cpp_tensor_value`, x)) else as.vector(x)

detach_value <- function(x) if (is_tensor(x)) .Call(`_svi_cpp_tensor_detach`, x) else x

site_reparam <- function(site) isTRUE(attr(site$fn, "svi_rsample"))   # has_rsample(), unchecked

# The step context: tape (NULL when gradients are not wanted), store and this step's params.
new_ctx <- function(store, tape, compile = FALSE) {
  ctx <- new.env(parent = emptyenv())
  ctx$store <- store
  ctx$tape <- tape
  ctx$compile <- compile
  ctx$handles <- list()
  ctx$leaves <- list()
  ctx
}

# Runs `num_particles` particles of `loss` and returns list(loss, grads, leaves).
# With a tape, the surrogate is differentiated once for all particles.
run_elbo <- function(loss, model, guide, args, store, tape, training, compile = FALSE) {
  ctx <- new_ctx(store, tape, compile)
  old <- .svi$ctx
  # the guard first: the context and the tape's recording are undone whatever interrupts
  # (freezing or stopping a tape that never started is fine)
  on.exit({
    .svi$ctx <- old
    # a compiled recording keeps its nodes and constants for replay
    if (!is.null(tape)) {
      if (compile) .Call(`_svi_cpp_tape_freeze`, tape) else .Call(`_svi_cpp_tape_stop`, tape)
    }
  }, add = TRUE)
  if (!is.null(tape)) .Call(`_svi_cpp_tape_start`, tape)
  .svi$ctx <- ctx
  if (compile) args <- lapply(args, as_data_tensor, tape = tape)
  n <- .subset2(loss, "num_particles")
  extra <- elbo_handlers(loss, training = training)
  for (p in seq_len(n)) {
    tr <- with_handlers(extra(), importance_traces(model, guide, args))
    r <- elbo_particle(loss, tr, training = training)
    if (p == 1L) {
      elbo <- r$elbo
      surrogate <- r$surrogate
    } else {
      elbo <- elbo + r$elbo
      surrogate <- surrogate + r$surrogate
    }
  }
  out <- elbo_result(ctx, elbo, surrogate, n)
  if (compile) out$program <- compiled_program(ctx, out$loss_node, out$surrogate_node, tape)
  # the guard's reset, also in the body (see "Interrupt safety" in R/handlers.R)
  .svi$ctx <- old
  if (!is.null(tape)) {
    if (compile) .Call(`_svi_cpp_tape_freeze`, tape) else .Call(`_svi_cpp_tape_stop`, tape)
  }
  out
}

# The loss (-ELBO averaged over n particles) and, when the step records on a tape, the
# gradients of every parameter leaf: list(loss, grads, finite_grads, averages, updated = FALSE
# (the optimizer has not run)) plus the loss and surrogate nodes a compiled recording keeps.
elbo_result <- function(ctx, elbo, surrogate, n) {
  # With only pathwise gradients the surrogate is the ELBO itself: one node serves both.
  same <- identical(surrogate, elbo)
  loss_h <- if (n == 1L) -elbo else -elbo / n   # on the tape, so a replay reports the loss
  value <- value_of(loss_h)
  grads <- list()
  finite <- TRUE
  surrogate_loss <- NULL
  leaves <- ctx$leaves
  if (!is.null(ctx$tape) && length(leaves)) {
    if (is_tensor(surrogate)) {
      surrogate_loss <- if (same) loss_h else if (n == 1L) -surrogate else -surrogate / n
      .Call(`_svi_cpp_tape_backward`, surrogate_loss)
      grads <- .Call(`_svi_cpp_tape_grads`, leaves)
      finite <- attr(grads, "finite")
      attr(grads, "finite") <- NULL
    } else {
      grads <- lapply(leaves, function(l) as.vector(value_of(l) * 0))
    }
  }
  # averages: the decaying-average baselines this step updated (committed by svi_step())
  averages <- ctx$averages
  list(loss = value, grads = grads, finite_grads = finite,
       averages = if (length(averages)) lapply(averages, value_of) else list(),
       updated = FALSE, loss_node = loss_h, surrogate_node = surrogate_loss)
}

# One particle: list(elbo = number, surrogate = handle or number); the surrogate's gradient
# is the ELBO gradient estimate (its value need not be the ELBO).
elbo_particle <- function(loss, traces, training) UseMethod("elbo_particle")

# Handlers an ELBO wants around each particle's guide and model runs: a function returning a
# fresh list of handlers per particle (e.g. TraceGraph's provenance tracking).
elbo_handlers <- function(loss, training) UseMethod("elbo_handlers")

#' @export
elbo_handlers.default <- function(loss, training) function() list()

#' @export
print.svi_elbo <- function(x, ...) {
  opts <- x[setdiff(names(x), "name")]
  shown <- vapply(opts, function(v) if (is.function(v)) "<function>" else format(v), "")
  cat("<", x$name, "> ", paste(names(shown), shown, sep = " = ", collapse = ", "), "\n", sep = "")
  invisible(x)
}

check_particles <- function(num_particles, call = parent.frame()) {
  check_count(num_particles, "num_particles", min = 1, max = 1e6, call = call)
}
