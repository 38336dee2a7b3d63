# The mutable state of an svi object as plain R values, and putting it back. svi_run() takes
# a snapshot after every recorded step and restores it on interrupt, so an interrupted step
# leaves no trace (parameters, optimizer state, baseline averages and step count alike).
#
# Everything an svi object holds is plain R data apart from `tape`, an external pointer
# that svi_tape() rebuilds when it is missing or dead, so saveRDS()/readRDS() of an svi
# object (or of a fit, which holds one) needs no special code: the reloaded object rebuilds
# its tape on its next step.

svi_snapshot <- function(s) {
  fields <- names(s)
  fields <- fields[!fields %in% unchanging_fields]
  out <- vector("list", length(fields))
  names(out) <- fields
  for (nm in fields) out[nm] <- list(snapshot_value(s[[nm]], 1L))
  out
}

# The tape is a cache, warnings are not undone, and the rest never changes after svi().
unchanging_fields <- c("tape", "warned", "model", "guide", "optim", "loss", "compile")

# Environments are captured by content and restored in place, because other objects may
# share them (e.g. a parameter store passed to two svi objects). The state lives at most
# two environments down (the optimizer state's per-parameter environment); deeper ones are
# kept by reference, which also stops at any cycle.
snapshot_value <- function(x, depth) {
  if (!is.environment(x) || depth > 3L) return(x)
  contents <- as.list.environment(x, all.names = TRUE)
  for (nm in names(contents)) {
    if (is.environment(contents[[nm]])) contents[nm] <- list(snapshot_value(contents[[nm]], depth + 1L))
  }
  out <- list(env = x, contents = contents)
  class(out) <- "svi_env_snapshot"
  out
}

svi_restore <- function(s, snap) {
  # fields created after the snapshot (e.g. a compiled program recorded by the undone step)
  extra <- setdiff(names(s), c(names(snap), unchanging_fields))
  if (length(extra)) rm(list = extra, envir = s)
  for (nm in names(snap)) restore_value(s, nm, snap[[nm]])
  invisible(s)
}

restore_value <- function(env, name, value) {
  if (!inherits(value, "svi_env_snapshot")) {
    assign(name, value, envir = env)
    return(invisible())
  }
  target <- value$env
  extra <- setdiff(names(target), names(value$contents))
  if (length(extra)) rm(list = extra, envir = target)
  for (nm in names(value$contents)) restore_value(target, nm, value$contents[[nm]])
  assign(name, target, envir = env)
  invisible()
}
