# Checks of counts and numbers given by users, shared by every function that takes one, so
# each is a clear early error (never a late "missing value where TRUE/FALSE needed").

# A whole number within [min, max] (finite, one value); returns it as an integer.
# `where` (e.g. ' of plate "data"') follows the argument's name in the message.
check_count <- function(x, arg, min = 1, max = .Machine$integer.max, where = "",
                        call = parent.frame()) {
  ok <- is.numeric(x) && !is.object(x) && length(x) == 1L && !is.na(x) && is.finite(x) &&
    x == round(x) && x >= min && x <= max
  if (!ok) {
    range <- paste0("between ", min, " and ", format(max, scientific = FALSE))
    cli::cli_abort("{.arg {arg}}{where} must be a whole number {range}, not {format_value(x)}.", call = call)
  }
  as.integer(x)
}

# One finite number within [min, max] (or [min, max) when max_open).
check_number <- function(x, arg, min = -Inf, max = Inf, max_open = FALSE, call = parent.frame()) {
  ok <- is.numeric(x) && !is.object(x) && length(x) == 1L && !is.na(x) && is.finite(x) &&
    x >= min && (if (max_open) x < max else x <= max)
  if (!ok) {
    range <- if (is.finite(min) && is.finite(max)) paste0("in [", min, ", ", max, if (max_open) ")" else "]")
      else if (is.finite(min)) paste0(">= ", min) else if (is.finite(max)) paste0("<= ", max) else ""
    cli::cli_abort("{.arg {arg}} must be a finite number {range}, not {format_value(x)}.", call = call)
  }
  as.double(x)
}

# One TRUE or FALSE.
check_flag <- function(x, arg, call = parent.frame()) {
  if (!is.logical(x) || length(x) != 1L || is.na(x)) {
    cli::cli_abort(c("{.arg {arg}} must be {.code TRUE} or {.code FALSE}.",
                     x = "It is {format_value(x)}."), call = call)
  }
  invisible(x)
}
