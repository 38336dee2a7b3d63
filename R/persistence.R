# The mutable state of an svi object as plain R values, and putting it back. svi_run() takes
# a snapshot after every recorded step and restores it on interrupt, so an interrupted step
# leaves no trace (parameters, optimizer state, baseline averages and step count alike).
#
# Everything an svi object holds is plain R data apart from `tape`, an external pointer
# that svi_tape() rebuilds when it is missing or dead, so saveRDS()/readRDS() of an svi
# object (or of a fit, which holds one) needs no special code: the reloaded object rebuilds
# its tape on its next step.

svi_snapshot <- function(s) {
  fields <- ls(s, all.names = TRUE, sorted = FALSE)
  # the tape is a cache, warnings are not undone, and model, guide, optim, loss never change
  fields <- fields[!fields %in% c("tape", "warned", "model", "guide", "optim", "loss")]
  seen <- new.env(parent = emptyenv())
  seen$envs <- list(s)
  out <- vector("list", length(fields))
  names(out) <- fields
  for (nm in fields) out[nm] <- list(snapshot_value(s[[nm]], seen))
  out
}

# Environments are captured by content (recursively) and restored in place, because other
# objects may share them (e.g. a parameter store passed to two svi objects). An environment
# met twice (a cycle) is kept by reference the second time.
snapshot_value <- function(x, seen) {
  if (!is.environment(x)) return(x)
  for (e in seen$envs) if (identical(e, x)) return(x)
  seen$envs <- c(seen$envs, list(x))
  contents <- as.list.environment(x, all.names = TRUE)
  for (nm in names(contents)) {
    if (is.environment(contents[[nm]])) contents[nm] <- list(snapshot_value(contents[[nm]], seen))
  }
  structure(list(env = x, contents = contents), class = "svi_env_snapshot")
}

svi_restore <- function(s, snap) {
  for (nm in names(snap)) restore_value(s, nm, snap[[nm]])
  invisible(s)
}

restore_value <- function(env, name, value) {
  if (!inherits(value, "svi_env_snapshot")) {
    assign(name, value, envir = env)
    return(invisible())
  }
  target <- value$env
  extra <- setdiff(ls(target, all.names = TRUE), names(value$contents))
  if (length(extra)) rm(list = extra, envir = target)
  for (nm in names(value$contents)) restore_value(target, nm, value$contents[[nm]])
  assign(name, target, envir = env)
  invisible()
}
