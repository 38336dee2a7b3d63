#!/bin/sh
# Builds svi with AddressSanitizer and UndefinedBehaviorSanitizer into a temporary library and
# runs the test suite with libasan preloaded; prints the number of sanitizer reports.
# Not run in CI (the build takes about half an hour on a small machine).
# Usage: tools/sanitize.sh [package dir]   (default: the current directory)
# Environment: MAKEFLAGS (default -j1), SANITIZE_KEEP=1 keeps the temporary directory.
set -u
pkg=$(cd "${1:-.}" && pwd)
tmp=$(mktemp -d)
lib="$tmp/lib"
mkdir -p "$lib"
log="$tmp/tests.log"
makevars="$tmp/Makevars"
flags="-fsanitize=address,undefined -fno-omit-frame-pointer"
cat > "$makevars" <<MV
CFLAGS = -g -O1 $flags
CXXFLAGS = -g -O1 $flags
CXX11FLAGS = -g -O1 $flags
CXX14FLAGS = -g -O1 $flags
CXX17FLAGS = -g -O1 $flags
LDFLAGS = $flags
MV
# a fresh build: object files from a normal build must not be reused
src="$tmp/src"
mkdir -p "$src"
(cd "$pkg" && tar --exclude='./src/*.o' --exclude='./src/*.so' --exclude='./.git' -cf - .) | (cd "$src" && tar -xf -)
echo "Installing with sanitizers into $lib ..."
if ! R_MAKEVARS_USER="$makevars" MAKEFLAGS="${MAKEFLAGS:--j1}" \
    R CMD INSTALL --no-test-load --library="$lib" "$src" > "$tmp/install.log" 2>&1; then
  echo "Install failed; see $tmp/install.log"
  exit 2
fi
asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
echo "Running the test suite (libasan: $asan) ..."
# R itself leaks by design at exit: leak detection off; every other report counts. A huge
# allocation must fail as in R (NULL from malloc, then R's "cannot allocate" error), not abort
ASAN_OPTIONS="detect_leaks=0:halt_on_error=0:abort_on_error=0:allocator_may_return_null=1" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=0" \
LD_PRELOAD="$asan $ubsan" R_LIBS="$lib" NOT_CRAN=true SVI_INTERRUPT_TRIALS=2 \
  Rscript -e 'library(testthat); res <- test_dir(commandArgs(TRUE)[1], package = "svi", load_package = "installed", stop_on_failure = FALSE, reporter = "summary"); print(as.data.frame(res)[, c("failed", "skipped", "error")] |> colSums())' \
  "$src/tests/testthat" > "$log" 2>&1
status=$?
reports=$(grep -c -E "ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" "$log")
echo "Test run exit status: $status"
echo "Sanitizer reports: $reports"
[ "$reports" -gt 0 ] && grep -E -A5 "ERROR: AddressSanitizer|runtime error:" "$log" | head -60
echo "Log: $log"
[ "${SANITIZE_KEEP:-0}" = 1 ] || [ "$reports" -gt 0 ] || rm -rf "$src"
exit 0
