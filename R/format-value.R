# A user's value, shown in a message: its type and length are looked at first, and at most a
# few elements are formatted, so a bad 1e7-long argument costs no more than a bad number.
format_value <- function(x, n = 3L) {
  if (is.null(x)) return("NULL")
  if (is.function(x)) return("a function")
  if (is.environment(x)) return("an environment")
  if (is.factor(x)) return(paste0("a factor of length ", length(x)))
  if (!is.atomic(x)) return(cli::format_inline("{.obj_type_friendly {x}}"))
  k <- length(x)
  if (k == 0L) return(paste0("an empty ", typeof(x), " vector"))
  head <- as.vector(x[seq_len(min(k, n))])
  shown <- if (is.character(head)) encodeString(head, quote = "\"") else vapply(head, format, "", digits = 6)
  out <- paste(shown, collapse = ", ")
  if (!is.null(dim(x))) return(paste0("a ", paste(dim(x), collapse = " x "), " array (", out, if (k > n) ", ...", ")"))
  if (k == 1L) return(out)
  paste0("c(", out, if (k > n) paste0(", ... (", k, " values)"), ")")
}
