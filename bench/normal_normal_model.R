# The normal_normal reference model, shared by normal_normal.R and memory_compiled.R:
# mu ~ N(0, 10), 1000 observations y ~ N(mu, 1), mean-field guide.
model <- function(y) {
  mu <- sample_site("mu", dist_normal(0, 10))
  plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, 1), obs = y))
}
guide <- function(y) {
  sample_site("mu", dist_normal(param("loc", 0), param("scale", 1, constraint = constraint_positive())))
}
set.seed(1)
y <- rnorm(1000, 3)
