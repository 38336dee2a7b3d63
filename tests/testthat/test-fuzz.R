# Every export, and every distribution constructor inside a step, called with a fixed list of
# bad values in place of each argument in turn (the others valid). Each call must end within
# a second of CPU time (the 1e7-long value: 3 s; inside a step the long value is 1e6 long and
# gets 10 s, as it means 1e6 draws and log-densities), in a clear R error, a value or a
# warning; never in an internal message (Rcpp's, or a base R error about subscripts, coercion
# or a missing TRUE/FALSE that the user did not cause directly), and a failed step must leave
# the parameter store as it was.

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
  "std::bad_alloc", "c\\+\\+ exception", "Not compatible with", "reached elapsed time limit",
  "reached CPU time limit"
)

# The text of a condition's message, for the internal-pattern check. For svi's own rlang
# errors (no custom header or body methods) the pieces the user's message is made of -- the
# message, the bullets and the footer, all interpolated by cli_abort() already, and the
# parent's message -- are read directly: formatting them through cli again, as
# conditionMessage() does, would only add bullet symbols and line breaks, and costs about 10 ms
# an error (a third of this file's run time).
cnd_text <- function(cnd) {
  if (!inherits(cnd, "rlang_error") || !is.character(cnd$message) ||
      !is.null(cnd$header) || (!is.null(cnd$body) && !is.character(cnd$body)) ||
      (!is.null(cnd$footer) && !is.character(cnd$footer))) {
    return(conditionMessage(cnd))
  }
  c(cnd$message, cnd$body, cnd$footer, if (inherits(cnd$parent, "condition")) cnd_text(cnd$parent))
}

is_internal <- function(msg) {
  any(vapply(internal_patterns, function(p) any(grepl(p, msg)), TRUE))
}

# A call of `fname` with every argument bound to a variable of its own, so the call holds
# symbols, not values: R copies a call each time it is looked at (sys.call(), rlang's error
# call), which costs 80 MB and ~30 ms for a 1e7-long value inlined by do.call(). The values
# the function receives are the same.
fuzz_env_call <- function(fname, f, args) {
  env <- new.env(parent = globalenv())
  assign(fname, f, envir = env)
  vars <- sprintf(".fuzz_%d", seq_along(args))
  for (i in seq_along(args)) assign(vars[[i]], args[[i]], envir = env)
  call <- as.call(c(list(as.name(fname)), stats::setNames(lapply(vars, as.name), names(args))))
  list(call = call, env = env)
}

# One call, bounded to `limit` seconds of CPU time (and ten times that of elapsed time, for a
# call that waits): "ok", "warning", "error", or "internal: <message>". (CPU time, as an
# elapsed second flakes on a loaded machine: checking a 1e7-long argument's values is real
# work of up to half a second.)
fuzz_call <- function(f, args, limit = 1, fname = "f") {
  fc <- fuzz_env_call(fname, f, args)
  setTimeLimit(cpu = limit, elapsed = 10 * limit, transient = TRUE)
  on.exit(setTimeLimit(cpu = Inf, elapsed = Inf), add = TRUE)
  warned <- FALSE
  internal <- NULL
  out <- tryCatch(
    withCallingHandlers({
      eval(fc$call, fc$env)
      "ok"
    }, warning = function(w) {
      msg <- conditionMessage(w)
      if (is_internal(msg)) internal <<- msg
      warned <<- TRUE
      invokeRestart("muffleWarning")
    }, message = function(m) invokeRestart("muffleMessage")),
    error = function(e) {
      msg <- cnd_text(e)
      if (is_internal(msg)) paste("internal:", paste(msg, collapse = " ")) else "error"
    })
  if (!is.null(internal)) return(paste("internal warning:", internal))
  if (identical(out, "ok") && warned) "warning" else out
}

# Most of this file's time is svi's error messages being made: rlang records a backtrace
# with every error (about a third of an error's cost here; the fuzz tests never show one), and
# each message formatted by cli (cli_abort(), and conditionMessage(), which R calls when the
# error is signalled) starts a cli app of its own, building the theme anew, unless one is
# running already. Both are switched off or shared for the test; the messages are the same.
# (The backtrace option is rlang's internal one: if it goes, only the speed changes.)
local_fast_errors <- function(env = parent.frame()) {
  withr::local_options(list("rlang:::disable_trace_capture" = TRUE), .local_envir = env)
  cli::start_app(.envir = env)
  invisible()
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

# Exports whose valid call needs more than the table's required arguments -- one of two
# alternative parameters, a second distribution, a matrix, a fit -- so that each bad value
# reaches the check of its own argument instead of failing on a missing one: their whole
# valid call.
fuzz_base_overrides <- function(valid) {
  m <- matrix(c(0.5, 1, 2, 3), 2)
  s_lap <- svi(fuzz_model, auto_laplace(fuzz_model), adam(0.01), trace_elbo())
  svi_step(s_lap)
  s_fit <- svi(fuzz_model, fuzz_guide, adam(0.01), trace_elbo())
  fit <- svi_run(s_fit, num_steps = 3, progress = FALSE)
  list(
    auto_guide_list = list(model = fuzz_model, auto_normal(fuzz_model)),
    baseline_learned = list(fn = function(u) 0, input = 1),
    col_means = list(x = m), col_sums = list(x = m), row_means = list(x = m), row_sums = list(x = m),
    dist_bernoulli = list(prob = 0.3), dist_categorical = list(prob = c(0.3, 0.7)),
    dist_binomial = list(size = 3, prob = 0.4), dist_negative_binomial = list(size = 3, prob = 0.4),
    dist_beta = list(shape1 = 2, shape2 = 2), dist_lkj_cholesky = list(dim = 2),
    dist_poisson = list(lambda = 2), dist_mvnormal = list(mean = c(0, 0), scale_tril = diag(2)),
    dist_wishart = list(df = 3, scale_tril = diag(2)), dist_dirichlet = list(alpha = c(1, 2)),
    init_to_value = list(values = list(mu = 1)),
    kl_divergence = list(p = dist_normal(0, 1), q = dist_normal(1, 2)),
    laplace_approximation = list(s = s_lap), params = list(x = valid$s),
    svi_diagnose = list(fit = fit)
  )
}

# Alternative arguments (only one may be given): a bad value for one replaces the other.
fuzz_exclusive <- list(c("prob", "logit", "mu"), c("scale_tril", "cov", "precision"))
fuzz_drop_alternatives <- function(args, a) {
  for (g in fuzz_exclusive) if (a %in% g) args[setdiff(intersect(names(args), g), a)] <- NULL
  args
}

# Exports whose valid call is an error by design (param() outside a step needs an init, and
# giving one would add a parameter to the session's default store).
fuzz_base_errors <- "param"

fuzz_exports <- function() {
  ns <- asNamespace("svi")
  nms <- sort(getNamespaceExports("svi"))
  nms <- nms[vapply(nms, function(n) is.function(get(n, ns)) && !methods::is(get(n, ns), "genericFunction"), TRUE)]
  setdiff(nms, c("plate"))   # plate's fn runs the user's code; its checks have their own test
}

test_that("every export, given bad values, gives a clear error, a value or a warning", {
  skip_on_cran()
  local_fast_errors()
  valid <- fuzz_valid()
  overrides <- fuzz_base_overrides(valid)
  bad <- fuzz_values()
  ns <- asNamespace("svi")
  problems <- character(0)
  base_failed <- character(0)
  calls <- 0L
  for (nm in fuzz_exports()) {
    f <- get(nm, ns)
    formals_f <- setdiff(names(formals(f)), "...")
    # the valid call: required arguments from the table, or the export's own
    base <- overrides[[nm]]
    if (is.null(base)) {
      base <- list()
      for (a in formals_f) {
        if (identical(formals(f)[[a]], quote(expr = )) && a %in% names(valid)) base[a] <- list(valid[[a]])
      }
    }
    if (!fuzz_call(f, base, fname = nm) %in% c("ok", "warning")) base_failed <- c(base_failed, nm)
    for (a in formals_f) {
      for (bn in names(bad)) {
        args <- fuzz_drop_alternatives(base, a)
        args[a] <- list(bad[[bn]])
        # (checking a 1e7-long value is real O(n) work: up to ~0.9 s of CPU here, so it gets
        # three seconds; a hang, like the 20 minutes of formatting it once caused, still fails)
        res <- fuzz_call(f, args, limit = if (bn == "long") 3 else 1, fname = nm)
        calls <- calls + 1L
        if (startsWith(res, "internal")) problems <- c(problems, paste0(nm, "(", a, " = ", bn, "): ", res))
      }
    }
  }
  expect_gt(calls, 3000L)
  expect_identical(problems, character(0))
  # (so each bad value meets a call that works without it)
  expect_identical(base_failed, fuzz_base_errors)
})

test_that("every distribution constructor inside a step fails cleanly and leaves the store alone", {
  skip_on_cran()
  local_fast_errors()
  # inside a step the long value is 1e6 long: a step does real O(n) sampling and density
  # work on it (about half a minute of CPU for 1e7 over all constructors), while a message
  # that formats every element (0.12 ms each) would still take minutes and hit the limit
  bad <- fuzz_values()
  bad$long <- rep(0.5, 1e6)
  ns <- asNamespace("svi")
  dists <- grep("^dist_", getNamespaceExports("svi"), value = TRUE)
  dists <- setdiff(dists, c("dist_sample", "dist_variance"))
  # each constructor's valid arguments (the others keep their defaults)
  good <- list(
    dist_bernoulli = list(prob = 0.3), dist_beta = list(shape1 = 2, shape2 = 2),
    dist_binomial = list(size = 3, prob = 0.4), dist_categorical = list(prob = c(0.3, 0.7)),
    dist_delta = list(value = 0.5), dist_dirichlet = list(alpha = c(1, 2)),
    dist_gamma = list(shape = 2), dist_lkj_cholesky = list(dim = 2),
    dist_mvnormal = list(mean = c(0, 0), scale_tril = diag(2)),
    dist_wishart = list(df = 3, scale_tril = diag(2)),
    dist_negative_binomial = list(size = 3, prob = 0.4), dist_poisson = list(lambda = 2),
    dist_student_t = list(df = 3)
  )
  step_of <- function(dn, ctor, args) {
    fc <- fuzz_env_call(dn, ctor, args)
    model <- function() sample_site("z", eval(fc$call, fc$env))
    guide <- function() {
      param("loc", 0)
      sample_site("z", eval(fc$call, fc$env))
    }
    svi(model, guide, adam(0.01), trace_elbo())
  }
  problems <- character(0)
  steps <- 0L
  for (dn in dists) {
    ctor <- get(dn, ns)
    fa <- setdiff(names(formals(ctor)), "...")
    base <- if (is.null(good[[dn]])) list() else good[[dn]]
    # the valid call works, so each bad value meets a step that works without it
    if (fuzz_call(svi_step, list(step_of(dn, ctor, base)), fname = "svi_step") != "ok") {
      problems <- c(problems, paste0(dn, ": the valid step failed"))
    }
    for (a in fa) {
      for (bn in names(bad)) {
        args <- fuzz_drop_alternatives(base, a)
        args[a] <- list(bad[[bn]])
        s <- step_of(dn, ctor, args)
        before <- params(s)
        # a 1e6-long parameter is 1e6 draws and log-densities with gradients: real O(n) work,
        # given more than a second on a slow machine (a hang would still hit the limit)
        res <- fuzz_call(svi_step, list(s), limit = if (bn == "long") 10 else 1, fname = "svi_step")
        steps <- steps + 1L
        if (startsWith(res, "internal")) problems <- c(problems, paste0(dn, "(", a, " = ", bn, "): ", res))
        if (res == "error" && !same_store(params(s), before)) {
          problems <- c(problems, paste0(dn, "(", a, " = ", bn, "): the store changed"))
        }
        if (res == "error" && s$steps != 0L) problems <- c(problems, paste0(dn, "(", a, " = ", bn, "): a step was counted"))
      }
    }
  }
  expect_gt(steps, 500L)
  expect_identical(problems, character(0))
})
