# Compiled mode (svi(..., compile = TRUE)): the first two steps run the model and guide as
# usual while recording; if both recordings have the same structure, later steps replay the
# second one in C++ with fresh noise, fresh minibatches and the current parameters.
# Replay needs everything the step computes on the tape: data arguments enter as constant
# tensors, minibatch indices as subsample nodes, score-function weights and baselines as
# detached nodes. Given the same seed, replayed steps draw the same random numbers in the same
# order as dynamic steps, so both modes give the same losses.

# Data passed to a compiled model: numeric vectors and arrays (also inside a list) become
# constant tensors, so that x[i] with a minibatch index node is recorded on the tape. Single
# numbers stay plain (they may be sizes or options, and are baked into the tape anyway).
as_data_tensor <- function(a, tape) {
  if ((is.double(a) || is.integer(a)) && !is.object(a) && length(a) > 1L) {
    return(.Call(`_svi_cpp_tensor_constant`, tape, a))
  }
  if (is.list(a) && !is.object(a)) return(lapply(a, as_data_tensor, tape = tape))
  a
}

# Records, for each site of a compiled recording, where on the tape it starts, so a structure
# change can be reported by site.
compiled_mark <- function(ctx, msg) {
  ctx$marks[[length(ctx$marks) + 1L]] <- list(
    name = msg$name, type = msg$type,
    node = .Call(`_svi_cpp_tape_size`, ctx$tape)
  )
}

node_of <- function(h) .Call(`_svi_cpp_tensor_node`, h)

# What a replay needs to know about a recorded step.
compiled_program <- function(ctx, loss_h, surrogate_loss, tape) {
  if (!is_tensor(loss_h)) {
    cli::cli_abort("{.code compile = TRUE} needs a model with at least one sample site.", call = NULL)
  }
  if (is.null(surrogate_loss)) {
    cli::cli_abort("{.code compile = TRUE} needs a guide with at least one parameter.", call = NULL)
  }
  averages <- lapply(names(ctx$average_leaves), function(nm) {
    list(name = nm, leaf = node_of(ctx$average_leaves[[nm]]), `next` = node_of(ctx$averages[[nm]]))
  })
  list(
    tape = tape,
    leaves = vapply(ctx$leaves, node_of, 1L),
    loss_node = node_of(loss_h),
    surrogate_node = node_of(surrogate_loss),
    averages = averages,
    marks = ctx$marks,
    signature = .Call(`_svi_cpp_tape_signature`, tape)
  )
}

# Stops with a message naming the first site whose recording differs.
check_same_structure <- function(a, b) {
  fail <- function(what) {
    cli::cli_abort(c(
      "The model's structure is not static, so it cannot be compiled.",
      x = what,
      i = "Use {.code svi(..., compile = FALSE)} for models whose sites, shapes or branches change between steps."
    ), call = NULL)
  }
  na <- vapply(a$marks, function(m) m$name, "")
  nb <- vapply(b$marks, function(m) m$name, "")
  if (!identical(na, nb)) {
    len <- max(length(na), length(nb))
    k <- which(c(na, rep("", len - length(na))) != c(nb, rep("", len - length(nb))))[1]
    if (k > length(nb) || (k <= length(na) && !na[k] %in% nb)) {
      fail(paste0("Site \"", na[k], "\" appeared in one step but not in the next."))
    }
    fail(paste0("Site \"", nb[k], "\" appeared in one step but not in the one before."))
  }
  if (identical(a$signature, b$signature)) return(invisible())
  la <- length(a$signature)
  lb <- length(b$signature)
  j <- which(a$signature[seq_len(min(la, lb))] != b$signature[seq_len(min(la, lb))])[1]
  if (is.na(j)) j <- min(la, lb) + 1L
  starts <- vapply(b$marks, function(m) m$node, 1L)
  k <- max(c(1L, which(starts < j)))
  fail(paste0("The computation changed at or after site \"", nb[k], "\" (a shape, an operation or a branch differs between steps)."))
}

# One recorded (dynamic) step of a compiled svi object.
compiled_record_step <- function(s, args) {
  tape <- .Call(`_svi_cpp_tape_new`)
  res <- run_elbo(s$loss, s$model, s$guide, args, s$store, tape, training = TRUE, compile = TRUE)
  prog <- res$program
  prog$args <- args
  first <- is.null(s$recording)
  if (!first) check_same_structure(s$recording, prog)
  finite <- step_is_finite(res)
  # The recording, the update and the step count change together (interrupts held back), so
  # an interrupted recording leaves the object at its last completed step.
  suspendInterrupts({
    if (finite) {
      apply_update(s, res$grads)
      commit_averages(s$store, res$averages)
    }
    # A replay needs every parameter's optimizer state, which only an update creates: until
    # one has happened (e.g. both recordings non-finite, skipped with the dynamic warning),
    # keep recording.
    if (first || !has_optim_states(s, prog)) {
      s$recording <- prog
    } else {
      s$recording <- NULL
      s$program <- prog
    }
  })
  res$loss
}

has_optim_states <- function(s, prog) {
  all(vapply(names(prog$leaves), function(nm) !is.null(s$optim_state$params[[nm]]), TRUE))
}

# Replays `n` steps in C++, which also stores their result in `s` (src/glue_compiled.cpp):
# returns their losses (attribute "interrupted" when a user interrupt cut the stretch short;
# the object is then at the last completed step), or NULL when the program's tape is gone.
compiled_replay <- function(s, n) {
  out <- .Call(`_svi_cpp_compiled_replay`, s, n)
  if (is.null(out)) return(NULL)
  if (!is.null(attr(out, "skipped"))) {
    attr(out, "skipped") <- NULL
    with_svi(s, step_is_finite(list(loss = NaN, grads = list())))   # the warning, once per object
  }
  out
}

# Runs `n` steps of a compiled svi object with arguments `args`: recording while there is no
# program for these arguments, replaying after.
compiled_steps <- function(s, args, n) {
  prog <- .subset2(s, "program")
  if (!is.null(prog) && identical(args, .subset2(prog, "args"))) {
    out <- compiled_replay(s, n)   # the usual case: one call
    if (!is.null(out)) return(out)
  }
  if (!is.null(prog)) {   # new data (or a reloaded object): record again
    s$program <- NULL
    s$recording <- NULL
  }
  losses <- numeric(0)
  while (is.null(s$program) && n > 0) {
    losses <- c(losses, with_svi(s, compiled_record_step(s, args)))
    n <- n - 1L
  }
  if (n > 0) {
    more <- compiled_replay(s, n)
    losses <- c(losses, more)
    if (isTRUE(attr(more, "interrupted"))) attr(losses, "interrupted") <- TRUE
  }
  losses
}
