# The effect-handler stack. sample_site(), param() and plate() build a message (a list) and pass
# it through the active handlers, innermost first; a handler may stop the walk (block). Then the
# default behaviour fills in a value, and the visited handlers' postprocess hooks run outermost
# first (trace records sites there). See pyro-semantics section 0.1.

.svi <- new.env(parent = emptyenv())
.svi$stack <- list()     # active handlers, oldest first
.svi$ctx <- NULL         # the step being recorded (tape, param store, param handles), or NULL
.svi$frames <- list()    # active plate frames, outermost first
.svi$batch <- integer(0) # their sizes (the batch shape sites inside them take)
.svi$scale <- 1          # the product of their full_size / size (minibatch scaling)
.svi$plain <- TRUE       # whether the stack holds only handlers the C++ walk knows (plain_handler())

# Trace and replay handlers, and TraceGraph's tracker: the handlers src/glue_sites.cpp walks.
plain_handler <- function(h) {
  type <- h$type
  type == "trace" || type == "replay" || type == "track_nonreparam"
}

# A handler is a list with optional `process(msg)` and `postprocess(msg)` functions.
new_handler <- function(type, process = NULL, postprocess = NULL, ...) {
  list(type = type, process = process, postprocess = postprocess, ...)
}

# Interrupt safety. Every change to this state is undone by a guard that exists before the
# change: on.exit() is registered first, with a reset to values saved before. R checks for
# interrupts as it starts evaluating an on.exit expression too, and an interrupt there skips
# the rest of that expression; so the normal end of each guarded function does the same
# reset in its body, where an interrupt still finds the guard (the reset is idempotent, and
# the on.exit repeats it harmlessly). Updates that must change together are committed inside
# suspendInterrupts() (commit_step(), a compiled recording); a compiled replay stores its
# result from C++ after its last step, with no R code in between.

# Runs `expr` with `h` pushed on the stack; the stack is restored even on error or interrupt.
with_handler <- function(h, expr) {
  old <- .svi$stack
  old_plain <- .svi$plain
  on.exit({
    .svi$stack <- old
    .svi$plain <- old_plain
  }, add = TRUE)
  .svi$stack <- c(old, list(h))
  .svi$plain <- old_plain && plain_handler(h)
  out <- expr
  .svi$stack <- old
  .svi$plain <- old_plain
  out
}

# Runs `expr` with a list of handlers pushed, the first outermost.
with_handlers <- function(hs, expr) {
  if (!length(hs)) return(expr)
  old <- .svi$stack
  old_plain <- plain <- .svi$plain
  for (h in hs) plain <- plain && plain_handler(h)
  on.exit({
    .svi$stack <- old
    .svi$plain <- old_plain
  }, add = TRUE)
  .svi$stack <- c(old, hs)
  .svi$plain <- plain
  out <- expr
  .svi$stack <- old
  .svi$plain <- old_plain
  out
}

# Every site of every step passes through here, so it is written for speed: plain loops, and
# the two handlers every step uses -- trace (records sites) and replay (gives the model the
# guide's values) -- are data that this loop interprets rather than closures it calls.
# Handlers are internal and keep msg$stop a single logical.
apply_stack <- function(msg) {
  stack <- .svi$stack
  n <- length(stack)
  first <- 1L
  i <- n
  while (i > 0L) {
    h <- stack[[i]]
    type <- h$type
    if (type == "trace") {
      if (msg$type == "subsample" && is.null(msg$value)) msg <- trace_reuse_subsample(h$rec, msg)
    } else if (type == "replay") {
      g <- h$sites[[msg$name]]
      if (!is.null(g)) msg <- replay_site(msg, g)
    } else {
      process <- h$process
      if (!is.null(process)) {
        msg <- process(msg)
        if (msg$stop) {
          first <- i
          break
        }
      }
    }
    i <- i - 1L
  }
  if (is.null(msg$value) && !msg$done) msg$value <- default_value(msg)
  msg$done <- TRUE
  ctx <- .svi$ctx
  if (!is.null(ctx) && ctx$compile) compiled_mark(ctx, msg)
  while (first <= n) {
    h <- stack[[first]]
    if (h$type == "trace") {
      trace_record(h$rec, msg)
    } else {
      post <- h$postprocess
      if (!is.null(post)) msg <- post(msg)
    }
    first <- first + 1L
  }
  msg
}

# The value a site takes when no handler gave it one.
default_value <- function(msg) {
  type <- msg$type
  if (type == "sample") {
    d <- if (is.null(msg$batch) || length(msg$batch)) site_dist(msg) else msg$fn
    return(dist_draw(d))
  }
  if (type == "subsample") return(plate_indices(msg$size, msg$subsample_size))
  NULL
}
