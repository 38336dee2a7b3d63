# The effect-handler stack. sample_site(), param() and plate() build a message (a list) and pass
# it through the active handlers, innermost first; a handler may stop the walk (block). Then the
# default behaviour fills in a value, and the visited handlers' postprocess hooks run outermost
# first (trace records sites there). See pyro-semantics section 0.1.

.svi <- new.env(parent = emptyenv())
.svi$stack <- list()     # active handlers, oldest first
.svi$ctx <- NULL         # the step being recorded (tape, param store, param handles), or NULL
.svi$frames <- list()    # active plate frames, outermost first

# A handler is a list with optional `process(msg)` and `postprocess(msg)` functions.
new_handler <- function(type, process = NULL, postprocess = NULL, ...) {
  list(type = type, process = process, postprocess = postprocess, ...)
}

# Runs `expr` with `h` pushed on the stack; the stack is restored even on error or interrupt.
with_handler <- function(h, expr) {
  old <- .svi$stack
  .svi$stack <- c(old, list(h))
  on.exit(.svi$stack <- old, add = TRUE)
  expr
}

# Runs `expr` with a list of handlers pushed, the first outermost.
with_handlers <- function(hs, expr) {
  if (!length(hs)) return(expr)
  old <- .svi$stack
  .svi$stack <- c(old, hs)
  on.exit(.svi$stack <- old, add = TRUE)
  expr
}

apply_stack <- function(msg) {
  stack <- .svi$stack
  n <- length(stack)
  first <- 1L
  for (i in rev(seq_len(n))) {
    h <- stack[[i]]
    if (!is.null(h$process)) msg <- h$process(msg)
    if (isTRUE(msg$stop)) {
      first <- i
      break
    }
  }
  if (!isTRUE(msg$stop)) first <- 1L
  msg <- default_process(msg)
  ctx <- .svi$ctx
  if (!is.null(ctx) && isTRUE(ctx$compile)) compiled_mark(ctx, msg)
  for (i in seq_len(n)) {
    if (i < first) next
    h <- stack[[i]]
    if (!is.null(h$postprocess)) msg <- h$postprocess(msg)
  }
  msg
}

default_process <- function(msg) {
  if (isTRUE(msg$done) || !is.null(msg$value)) {
    msg$done <- TRUE
    return(msg)
  }
  if (identical(msg$type, "sample")) {
    msg$value <- dist_draw(site_dist(msg))
  } else if (identical(msg$type, "subsample")) {
    msg$value <- plate_indices(msg$size, msg$subsample_size)
  }
  msg$done <- TRUE
  msg
}
