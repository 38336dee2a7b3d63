# Every export, and every distribution constructor inside a step, called with a fixed list of
# bad values in place of each argument in turn (the others valid). Each call must end, within
# a second, in a clear R error, a value or a warning; never in an internal message (Rcpp's,
# or a base R error about subscripts, coercion or a missing TRUE/FALSE that the user did not
# cause directly), and a failed step must leave the parameter store as it was.

fuzz_values <- function() {
  list(
    `NULL` = NULL, `NA` = NA, `NaN` = NaN, `Inf` = Inf, `-Inf` = -Inf, `1e308` = 1e308,
    `-1e308` = -1e308, string = "a", logical = TRUE, list = list(1), matrix = matrix(0.5, 3, 3),
    long = rep(0.5, 1e7), fun = function(...) 1, env = new.env(), factor = factor(c("a", "b"))
  )
}

# Messages that come from inside svi rather than from a check of the user's input.
internal_patterns <- c(
  "Expecting a single", "Expecting an?", "subscript out of bounds",
  "missing value where TRUE/FALSE needed", "NAs introduced by coercion",
  "argument is not interpretable as logical", "non-numeric argument to",
  "cannot coerce", "is not subsettable", "\\$ operator is invalid", "invalid 'type'",
  "argument is of length zero", "object '.*' not found", "could not find function",
  "incorrect number of dimensions", "arguments imply differing number of rows",
  "std::bad_alloc", "c\\+\\+ exception", "Not compatible with", "reached elapsed time limit"
)

# One call, bounded to `limit` seconds: "ok", "warning", "error", or "internal: <message>".
fuzz_call <- function(f, args, limit = 1) {
  setTimeLimit(elapsed = limit, transient = TRUE)
  on.exit(setTimeLimit(elapsed = Inf), add = TRUE)
  warned <- FALSE
  internal <- NULL
  is_internal <- function(msg) any(vapply(internal_patterns, grepl, TRUE, x = msg))
  out <- tryCatch(
    withCallingHandlers({
      do.call(f, args)
      "ok"
    }, warning = function(w) {
      if (is_internal(conditionMessage(w))) internal <<- conditionMessage(w)
      warned <<- TRUE
      invokeRestart("muffleWarning")
    }, message = function(m) invokeRestart("muffleMessage")),
    error = function(e) {
      msg <- conditionMessage(e)
      if (is_internal(msg)) paste("internal:", msg) else "error"
    })
  if (!is.null(internal)) return(paste("internal warning:", internal))
  if (identical(out, "ok") && warned) "warning" else out
}

# (an emptied store may keep an empty names attribute)
same_store <- function(a, b) if (!length(a) && !length(b)) TRUE else identical(a, b)

fuzz_model <- function() {
  mu <- sample_site("mu", dist_normal(0, 10))
  plate("data", 3, function(i) sample_site("obs", dist_normal(mu, 1), obs = c(0.1, 0.2, 0.3)[i]))
}
fuzz_guide <- function() {
  sample_site("mu", dist_normal(param("loc", 0), param("scale", 1, constraint = constraint_positive())))
}

# A valid value for each argument name used by the exports (others keep their defaults).
fuzz_valid <- function() {
  s <- svi(fuzz_model, fuzz_guide, adam(0.01), trace_elbo())
  svi_step(s)
  list(
    fn = fuzz_model, model = fuzz_model, guide = fuzz_guide, s = s, x = c(0.5, 0.25),
    y = c(0.5, 0.25), p = 0.3, loc = 0, scale = 1, rate = 1, shape = 2, concentration = c(1, 2),
    df = 3, low = 0, high = 1, probs = c(0.3, 0.7), logits = c(0.1, 0.2), total_count = 3,
    cov = diag(2), scale_tril = diag(2), precision = diag(2), v = 1, d = dist_normal(0, 1),
    dist = dist_normal(0, 1), c = constraint_positive(), lower = 0, upper = 1, name = "z",
    size = 3, num_steps = 2, num_samples = 3, lr = 0.01, step_size = 2, gamma = 0.5,
    milestones = c(2, 4), lr_lambda = function(epoch) 1, beta = 0.9, value = 1, loss = trace_elbo(),
    optim = adam(0.01), a = 1, b = 1, margin = NULL, mask = TRUE, data = list(mu = 1),
    trace = list(), f = function(x) sum(x), init = 0, obs = NULL, hide = NULL, expose = NULL,
    num_particles = 1, alpha = 1, e1 = dist_normal(0, 1), e2 = dist_normal(0, 1),
    validation = NULL, callback = NULL, mean = 0, sd = 1
  )
}

fuzz_exports <- function() {
  ns <- asNamespace("svi")
  nms <- sort(getNamespaceExports("svi"))
  nms <- nms[vapply(nms, function(n) is.function(get(n, ns)) && !methods::is(get(n, ns), "genericFunction"), TRUE)]
  setdiff(nms, c("plate"))   # plate's fn runs the user's code; its checks have their own test
}

test_that("every export, given bad values, gives a clear error, a value or a warning", {
  skip_on_cran()
  valid <- fuzz_valid()
  bad <- fuzz_values()
  ns <- asNamespace("svi")
  problems <- character(0)
  calls <- 0L
  for (nm in fuzz_exports()) {
    f <- get(nm, ns)
    formals_f <- setdiff(names(formals(f)), "...")
    # the valid call: required arguments from the table
    base <- list()
    for (a in formals_f) {
      if (identical(formals(f)[[a]], quote(expr = )) && a %in% names(valid)) base[a] <- list(valid[[a]])
    }
    for (a in formals_f) {
      for (bn in names(bad)) {
        args <- base
        args[a] <- list(bad[[bn]])
        res <- fuzz_call(f, args)
        calls <- calls + 1L
        if (startsWith(res, "internal")) problems <- c(problems, paste0(nm, "(", a, " = ", bn, "): ", res))
      }
    }
  }
  expect_gt(calls, 1000L)
  expect_identical(problems, character(0))
})

test_that("every distribution constructor inside a step fails cleanly and leaves the store alone", {
  skip_on_cran()
  bad <- fuzz_values()
  ns <- asNamespace("svi")
  dists <- grep("^dist_", getNamespaceExports("svi"), value = TRUE)
  dists <- setdiff(dists, c("dist_sample", "dist_variance"))
  good <- list(loc = 0, scale = 1, rate = 1, shape = 2, concentration = c(1, 2), df = 3,
               low = 0, high = 1, probs = c(0.3, 0.7), p = 0.3, total_count = 3, cov = diag(2),
               scale_tril = diag(2), precision = diag(2), v = 1, concentration1 = 2,
               concentration0 = 2, alpha = 2, beta = 2, logits = c(0.1, 0.2))
  problems <- character(0)
  for (dn in dists) {
    ctor <- get(dn, ns)
    fa <- setdiff(names(formals(ctor)), "...")
    for (a in fa) {
      for (bn in names(bad)) {
        args <- good[intersect(fa, names(good))]
        args[a] <- list(bad[[bn]])
        model <- function() sample_site("z", do.call(ctor, args))
        guide <- function() {
          param("loc", 0)
          sample_site("z", do.call(ctor, args))
        }
        s <- svi(model, guide, adam(0.01), trace_elbo())
        before <- params(s)
        # a 1e7-long parameter is 1e7 draws and log-densities with gradients: real O(n) work,
        # given more than a second on a slow machine (a hang would still hit the limit)
        res <- fuzz_call(svi_step, list(s), limit = if (bn == "long") 10 else 1)
        if (startsWith(res, "internal")) problems <- c(problems, paste0(dn, "(", a, " = ", bn, "): ", res))
        if (res == "error" && !same_store(params(s), before)) {
          problems <- c(problems, paste0(dn, "(", a, " = ", bn, "): the store changed"))
        }
        if (res == "error" && s$steps != 0L) problems <- c(problems, paste0(dn, "(", a, " = ", bn, "): a step was counted"))
      }
    }
  }
  expect_identical(problems, character(0))
})
