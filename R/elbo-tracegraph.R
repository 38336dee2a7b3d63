#' ELBO with per-site downstream costs, for guides with discrete or non-reparameterized latents
#'
#' `tracegraph_elbo()` (Pyro's `TraceGraph_ELBO`) estimates the same loss as [trace_elbo()]
#' but a lower-variance gradient for guide sites that cannot be reparameterized (discrete
#' latents, or distributions wrapped in `nonreparameterized()`). The score-function term of
#' such a site `k` is weighted only by its *downstream cost*: the model log-densities and
#' guide `-log q` terms whose values actually depend on the value drawn at `k` (found by
#' following the value through the autodiff tape), including `k`'s own
#' `log p - log q`. Terms inside a plate that `k` shares count only at the same index; terms
#' on plates `k` is not in are summed (as in pyro-semantics section 3.3).
#'
#' A baseline can be subtracted from the downstream cost of each non-reparameterized guide
#' site, through `sample_site(..., infer = list(baseline = ...))`:
#' * [baseline_decaying_avg()]: an exponential moving average of the downstream cost,
#'   per plate element;
#' * [baseline_value()]: a value you supply;
#' * [baseline_learned()]: an R function of an input, built from [param()] calls, trained to
#'   predict the downstream cost by squared error.
#'
#' Pyro's spelling is accepted too: `list(use_decaying_avg_baseline = TRUE,
#' baseline_beta = 0.95)`, `list(nn_baseline = fn, nn_baseline_input = x)` and
#' `list(baseline_value = v)` (a decaying average and a learned or given baseline may be
#' combined this way; they add up).
#'
#' The loss returned by [svi_step()] and [evaluate_loss()] is the negative ELBO estimate,
#' exactly as for [trace_elbo()]; `evaluate_loss()` never touches the baselines.
#' Use [gradient_variance()] to see how much a baseline reduces the gradient noise.
#'
#' @inheritParams trace_elbo
#' @return An ELBO object for [svi()].
#' @seealso [baseline_decaying_avg()], [gradient_variance()], [trace_elbo()]
#' @examples
#' # Two-component mixture with a discrete assignment per point
#' set.seed(1)
#' y <- c(rnorm(30, -2), rnorm(30, 2))
#' model <- function(y) {
#'   mu <- sample_site("mu", dist_normal(c(0, 0), 10))
#'   plate("data", length(y), function(i) {
#'     z <- sample_site("z", dist_bernoulli(prob = 0.5))
#'     sample_site("y", dist_normal(mu[1] * (1 - z) + mu[2] * z, 1), obs = y)
#'   })
#' }
#' guide <- function(y) {
#'   sample_site("mu", dist_normal(param("mu_loc", c(-1, 1)), 0.1))
#'   plate("data", length(y), function(i) {
#'     sample_site("z", dist_bernoulli(logit = param("z_logit", rep(0, length(y)))),
#'                 infer = list(baseline = baseline_decaying_avg()))
#'   })
#' }
#' s <- svi(model, guide, adam(lr = 0.05), tracegraph_elbo())
#' for (i in 1:300) svi_step(s, y)
#' params(s)$mu_loc
#' @export
tracegraph_elbo <- function(num_particles = 1, vectorize_particles = FALSE) {
  out <- trace_elbo(num_particles, vectorize_particles)
  out$name <- "TraceGraph_ELBO"
  class(out) <- c("svi_tracegraph_elbo", "svi_elbo")
  out
}

# While training, every particle runs inside a TrackNonReparam handler. Site ids count up
# over the whole step, so nodes of one particle never carry another particle's ids.
#' @export
elbo_handlers.svi_tracegraph_elbo <- function(loss, training) {
  if (!training) return(function() list())
  counter <- new.env(parent = emptyenv())
  counter$n <- 0L
  function() list(track_nonreparam_handler(counter))
}

# Postprocess hook: the value of every latent, non-reparameterized sample site becomes a
# constant node marked with the site's id. The model replays the guide's (marked) value and
# its site of the same name gets the same id. Runs for every message of every particle, so
# the common cases leave early and the marking is one call.
# src/glue_sites.cpp (track_nonreparam()) does the same for sites that take the C++ walk; it
# reads `ids` and `counter` from the handler.
track_nonreparam_handler <- function(counter) {
  ids <- new.env(parent = emptyenv())
  new_handler("track_nonreparam", ids = ids, counter = counter, postprocess = function(msg) {
    if (!identical(msg$type, "sample") || isTRUE(msg$is_observed) || site_reparam(msg)) return(msg)
    if (!.Call(`_svi_cpp_tape_recording`)) return(msg)
    id <- ids[[msg$name]]
    if (is.null(id)) {
      counter$n <- counter$n + 1L
      id <- counter$n
      assign(msg$name, id, envir = ids)
    }
    v <- msg$value
    # a handle keeps its node when it already carries the mark (the model replaying the
    # guide's draw), else becomes a detached copy that carries it
    msg$value <- if (is_tensor(v)) .Call(`_svi_cpp_tracegraph_mark`, v, id) else mark_draw(msg$fn, v, id)
    msg$prov_id <- id
    msg
  })
}

provenance <- function(x) .Call(`_svi_cpp_tensor_provenance`, x)

# A non-reparameterized draw as a fresh constant node (no gradient flows through it, and no
# other node gets the mark) that depends on its own site and on every site its distribution's
# parameters depend on: the draw is a function of them (z2 ~ q(z2 | z1) depends on z1). Those
# are read off the provenance of the density at the drawn value.
mark_draw <- function(dist, v, id) {
  if (is_tensor(v)) {
    # a detached copy of the sampling node: it inherits the marks of the distribution's
    # parameters, and a compiled replay recomputes it from the fresh draw
    return(.Call(`_svi_cpp_tracegraph_mark`, v, id))
  }
  raw <- v
  deps <- provenance(dist_log_prob(dist, raw))
  out <- .Call(`_svi_cpp_tape_constant`, raw)
  for (k in union(deps, id)) .Call(`_svi_cpp_tensor_add_provenance`, out, k)
  out
}

#' @export
elbo_particle.svi_tracegraph_elbo <- function(loss, traces, training) {
  model <- traces$model
  guide <- traces$guide
  model_lp <- lapply(model, site_log_prob)
  guide_lp <- lapply(guide, site_log_prob)
  reparam <- vapply(guide, site_reparam, NA)
  # elbo = sum of log p - sum of log q; the surrogate starts from the same model part, minus
  # log q of the reparameterized guide sites. On a recording tape, one call records it.
  r <- if (training) .Call(`_svi_cpp_tracegraph_elbo`, model_lp, guide_lp, reparam)
  if (is.null(r)) {
    # the ELBO stays on the tape when one records (as for trace_elbo()), else it is a number
    guide_sum <- lapply(guide_lp, sum)
    model_total <- Reduce(`+`, lapply(model_lp, sum), 0)
    elbo <- model_total - Reduce(`+`, guide_sum, 0)
    if (!training) return(list(elbo = elbo, surrogate = 0))
    surrogate <- model_total
    for (nm in names(guide)[reparam]) surrogate <- surrogate - guide_sum[[nm]]
  } else {
    elbo <- r[[1L]]
    surrogate <- r[[2L]]
  }
  dc <- downstream_costs(model, guide, model_lp, guide_lp)
  for (q in seq_along(dc$site)) {
    nm <- dc$site[[q]]
    g <- guide[[nm]]
    cost <- dc$cost[[q]]   # detached: no gradient flows through it
    bl <- site_baseline(g, cost)
    # the score function is neither scaled nor masked
    score <- if (identical(g$scale, 1) && is.null(g$mask)) guide_lp[[nm]] else site_log_prob_raw(g)
    # surrogate + sum(score * (cost - detach(baseline))), in one call on a recording tape
    s <- .Call(`_svi_cpp_tracegraph_score`, surrogate, score, cost, bl$value)
    if (is.null(s)) {
      w <- if (is.null(bl$value)) cost else cost - detach_value(bl$value)
      s <- surrogate + sum(score * w)
    }
    surrogate <- s
    if (!is.null(bl$loss)) surrogate <- surrogate - bl$loss
  }
  list(elbo = elbo, surrogate = surrogate)
}

# The downstream costs of the non-reparameterized guide sites, in order of first dependence:
# list(site = their names, terms = for each, the indices of its cost terms in
# c(model sites, guide sites), cost = for each, the detached cost on the site's plates). The
# terms of site k are the log-densities whose node depends on k's draw: model terms enter as
# log p, guide terms as -log q, each reduced from its own site's plates (sum_to_frames'
# rules). One C++ call reads the provenance and builds the costs.
downstream_costs <- function(model, guide, model_lp, guide_lp) {
  res <- .Call(`_svi_cpp_tracegraph_costs`, model, guide, model_lp, guide_lp)
  list(site = names(guide)[res$site], terms = res$terms, cost = res$cost)
}

# For tests and debugging: one particle of `model`/`guide` under provenance tracking, giving
# for each non-reparameterized guide site the terms of its downstream cost ("model:<site>" or
# "guide:<site>") and its value reduced to the site's plates.
tracegraph_costs <- function(model, guide, args = list(), store = new_param_store()) {
  tape <- .Call(`_svi_cpp_tape_new`)
  ctx <- new_ctx(store, tape)
  old <- .svi$ctx
  on.exit({
    .svi$ctx <- old
    .Call(`_svi_cpp_tape_stop`, tape)
  }, add = TRUE)
  .Call(`_svi_cpp_tape_start`, tape)
  .svi$ctx <- ctx
  extra <- elbo_handlers(tracegraph_elbo(), training = TRUE)
  tr <- with_handlers(extra(), importance_traces(model, guide, args))
  model_lp <- lapply(tr$model, site_log_prob)
  guide_lp <- lapply(tr$guide, site_log_prob)
  dc <- downstream_costs(tr$model, tr$guide, model_lp, guide_lp)
  labels <- c(paste0("model:", names(tr$model)), paste0("guide:", names(tr$guide)))
  list(
    terms = stats::setNames(lapply(dc$terms, function(k) labels[k]), dc$site),
    cost = stats::setNames(lapply(dc$cost, value_of), dc$site),
    model = lapply(model_lp, value_of),
    guide = lapply(guide_lp, value_of),
    values = lapply(tr$guide, function(g) value_of(g$value))
  )
}
