# The usual svi_step() in one R frame: one particle, called outside any handler or other step.
# It does what with_svi(), run_elbo(), importance_traces(), run_traced() and apply_update() do
# for that case; on a small model each of their frames, handler pushes and on.exit hooks cost
# more than the numerics (see "The lean dynamic path" in ARCHITECTURE.md). test-lean-path.R
# checks it gives identical() losses and parameters to the general path.

lean_step_applies <- function(s) {
  .subset2(.subset2(s, "loss"), "num_particles") == 1L && !length(.svi$stack) &&
    is.null(.svi$ctx) && isTRUE(.svi$lean)
}

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
    .svi$plain <- TRUE
    .svi$ctx <- NULL
    .svi$warned <- old_warned
    .Call(`_svi_cpp_tape_stop`, tape)
    if (!ok) drop_params_after(store, n_before)
  })
  loss <- .subset2(s, "loss")
  extra <- elbo_handlers(loss, training = TRUE)()   # outermost, as run_elbo() pushes them
  plain <- TRUE
  for (h in extra) plain <- plain && plain_handler(h)
  .svi$warned <- .subset2(s, "warned")
  .Call(`_svi_cpp_tape_start`, tape)
  .svi$ctx <- ctx
  .svi$plain <- plain
  # the guide under a trace handler, then the model under trace + replay of the guide's sites
  .svi$stack <- c(extra, list(list(type = "trace", rec = g)))
  do.call(.subset2(s, "guide"), args)
  .svi$stack <- c(extra, list(list(type = "trace", rec = m), list(type = "replay", sites = g$sites)))
  do.call(.subset2(s, "model"), args)
  .svi$stack <- list()
  .svi$plain <- TRUE
  # a Trace_ELBO step of an already checked structure with a pathwise guide: ELBO, gradients
  # and update in one C++ call
  res <- .Call(`_svi_cpp_lean_finish`, m, g, ctx, s, .svi$warned)
  if (is.null(res)) {
    r <- elbo_particle(loss, checked_traces(m, g), training = TRUE)
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
