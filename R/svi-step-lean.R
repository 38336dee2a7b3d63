# The usual svi_step() in one R frame: one particle, called outside any handler or other step.
# It does what with_svi(), run_elbo(), importance_traces(), run_traced() and apply_update() do
# for that case; on a small model each of their frames, handler pushes and on.exit hooks cost
# more than the numerics (see "The lean dynamic path" in ARCHITECTURE.md). test-lean-path.R
# checks it gives identical() losses and parameters to the general path.

.svi$lean <- TRUE   # tests switch it off to compare with the general path

# `...` are svi_step()'s arguments, passed on as they are (do.call() would cost more than a
# small model's numerics).
lean_step <- function(s, ...) {
  store <- .subset2(s, "store")
  tape <- svi_tape(s)
  loss <- .subset2(s, "loss")
  n_before <- length(.subset2(store, "values"))
  extra <- elbo_handlers(loss, training = TRUE)()   # outermost, as run_elbo() pushes them
  plain <- TRUE
  for (h in extra) plain <- plain && plain_handler(h)
  steps_before <- .subset2(s, "steps")
  ok <- FALSE
  # The guard exists before the state changes: whatever interrupts, the state goes back to
  # that outside any step (one C++ call), and parameters first created by a step that did not
  # commit its update are dropped. The body ends with the same reset (see "Interrupt safety" in
  # R/handlers.R: R may take an interrupt just as an on.exit expression starts).
  old_warned <- .svi$warned
  on.exit({
    .Call(`_svi_cpp_lean_end`, old_warned, .svi, tape)
    if (!ok && identical(.subset2(s, "steps"), steps_before)) drop_params_after(store, n_before)
  })
  # the context, the trace records and the guide's stack c(extra, trace); the tape records
  step <- .Call(`_svi_cpp_lean_begin`, s, .svi, tape, extra, plain)
  .subset2(s, "guide")(...)
  .Call(`_svi_cpp_lean_model`, step, .svi)   # c(extra, trace, replay of the guide's sites)
  .subset2(s, "model")(...)
  ctx <- .subset2(step, 1L)
  g <- .subset2(step, 2L)
  m <- .subset2(step, 3L)
  # a Trace_ELBO step of an already checked structure with a pathwise guide: ELBO, gradients
  # and update in one C++ call
  res <- .Call(`_svi_cpp_lean_finish`, m, g, ctx, s, .svi$warned)
  if (is.null(res)) {
    .svi$stack <- list()   # the ELBO runs outside the handlers, as in run_elbo()
    .svi$plain <- TRUE
    r <- elbo_particle(loss, checked_traces(m, g), training = TRUE)
    res <- elbo_result(ctx, r$elbo, r$surrogate, 1L)
  }
  .Call(`_svi_cpp_tape_stop`, tape)   # (stopping twice is fine)
  if (!.subset2(res, "updated") && step_is_finite(res)) commit_step(s, res)
  ok <- TRUE
  .Call(`_svi_cpp_lean_end`, old_warned, .svi, tape)
  res$loss
}
