# The usual svi_step() in one R frame: a loss without extra handlers (trace_elbo(),
# meanfield_elbo()) and one particle, called outside any handler or other step. It does what
# with_svi(), run_elbo(), importance_traces(), run_traced() and apply_update() do for that case;
# on a small model each of their frames, handler pushes and on.exit hooks cost more than the
# numerics (see "The lean dynamic path" in ARCHITECTURE.md). test-lean-path.R checks it gives
# identical() losses and parameters to the general path.

lean_step_applies <- function(s) {
  loss <- .subset2(s, "loss")
  .subset2(loss, "num_particles") == 1L && !length(.svi$stack) && is.null(.svi$ctx) &&
    inherits(loss, lean_losses) && isTRUE(.svi$lean)
}

# Loss classes whose elbo_handlers() adds nothing (the default method).
lean_losses <- c("svi_trace_elbo", "svi_meanfield_elbo")
.svi$lean <- TRUE   # tests switch it off to compare with the general path

lean_step <- function(s, args) {
  store <- .subset2(s, "store")
  tape <- svi_tape(s)
  n_before <- length(.subset2(store, "values"))
  ctx <- new_ctx(store, tape)
  g <- new_trace_rec()
  m <- new_trace_rec()
  old_warned <- .svi$warned
  ok <- FALSE
  on.exit({
    .svi$stack <- list()
    .svi$ctx <- NULL
    .svi$warned <- old_warned
    .Call(`_svi_cpp_tape_stop`, tape)
    if (!ok) drop_params_after(store, n_before)
  })
  .svi$warned <- .subset2(s, "warned")
  .Call(`_svi_cpp_tape_start`, tape)
  .svi$ctx <- ctx
  # the guide under a trace handler, then the model under trace + replay of the guide's sites
  .svi$stack <- list(list(type = "trace", rec = g))
  do.call(.subset2(s, "guide"), args)
  .svi$stack <- list(list(type = "trace", rec = m), list(type = "replay", sites = g$sites))
  do.call(.subset2(s, "model"), args)
  .svi$stack <- list()
  # a Trace_ELBO step of an already checked structure with a pathwise guide: ELBO, gradients
  # and update in one C++ call
  res <- .Call(`_svi_cpp_lean_finish`, m, g, ctx, s, .svi$warned)
  if (is.null(res)) {
    r <- elbo_particle(.subset2(s, "loss"), checked_traces(m, g), training = TRUE)
    res <- elbo_result(ctx, r$elbo, r$surrogate, 1L)
  }
  .Call(`_svi_cpp_tape_stop`, tape)   # (stopping twice is fine)
  if (!.subset2(res, "updated") && step_is_finite(res)) {
    apply_update(s, res$grads)
    if (length(res$averages)) commit_averages(store, res$averages)
  }
  ok <- TRUE
  res$loss
}
