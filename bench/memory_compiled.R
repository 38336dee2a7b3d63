# Resident memory over 1e5 compiled steps of normal_normal (mu ~ N(0, 10), 1000 observations
# y ~ N(mu, 1), mean-field guide): must stay flat (growth < 1 MB). Runs the steps in stretches
# of 100, as svi_run() does, sampling VmRSS from /proc/self/status.
#
# Three phases of 1e5 steps each:
#  1. as svi_run() runs them (no gc() calls): RSS first rises by R's garbage-collection headroom
#     -- each stretch leaves some kilobytes of R garbage (argument lists, the result list),
#     which R collects only when its heap reaches the GC trigger, and the pages it then frees
#     stay with the process. That rise is bounded (it stops once R has collected once), so it
#     is not a leak; it is printed as rss_growth_no_gc_mb.
#  1b. the next 1e5 steps the same way, now that R's heap has its working size:
#     rss_growth_steady_no_gc_mb (flat: under 1 MB).
#  2. the check: gc() before every sample, so what remains is memory neither R's collector nor
#     the tape frees. A leak in the C++ replay (or in R objects kept alive) grows here with the
#     number of steps; rss_growth_mb must stay below 1 MB.
source("bench/common.R")
source("bench/normal_normal_model.R")
set.seed(2)
s <- svi(model, guide, adam(lr = 0.01), trace_elbo(), compile = TRUE)
args <- list(y)
steps <- as.numeric(Sys.getenv("SVI_MEMORY_STEPS", "1e5"))
stretch <- 100L
for (i in 1:20) svi:::compiled_steps(s, args, stretch)   # warm-up: recording, first replays

invisible(gc())
r0 <- rss_mb()
for (i in seq_len(steps / stretch)) svi:::compiled_steps(s, args, stretch)
raw <- rss_mb() - r0

# the same again, R's heap now at its steady size: as svi_run() runs, no gc() calls
r1 <- rss_mb()
for (i in seq_len(steps / stretch)) svi:::compiled_steps(s, args, stretch)
steady <- rss_mb() - r1

invisible(gc())
before <- rss_mb()
heap_before <- sum(gc()[, 2])
samples <- numeric(0)
w0 <- wall_now()
c0 <- cpu_now()
for (i in seq_len(steps / stretch)) {
  svi:::compiled_steps(s, args, stretch)
  if (i %% 100 == 0) {
    invisible(gc())
    samples <- c(samples, rss_mb())
  }
}
elapsed <- wall_now() - w0
cpu <- cpu_now() - c0
invisible(gc())
after <- rss_mb()
json_line(list(model = "normal_normal", mode = "compiled", check = "memory", steps = steps,
               stretch = stretch, rss_growth_no_gc_mb = round(raw, 2),
               rss_growth_steady_no_gc_mb = round(steady, 3),
               rss_before_mb = round(before, 2), rss_after_mb = round(after, 2),
               rss_growth_mb = round(after - before, 3),
               rss_max_growth_during_mb = round(max(samples) - before, 3),
               r_heap_growth_mb = round(sum(gc()[, 2]) - heap_before, 2),
               peak_mb = round(peak_mb(), 1), us_per_step = round(elapsed / steps * 1e6, 2),
               cpu_us_per_step = round(cpu / steps * 1e6, 2), load = load_avg(),
               target_mb = 1, ok = if (after - before < 1) "yes" else "no"))
