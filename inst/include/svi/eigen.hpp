// Eigen, included through one header marked as a system header. Eigen is third-party code:
// compilers treat an installed library's headers as system headers and keep its internal
// diagnostics out of the user's build (GCC otherwise prints thousands of -Wignored-attributes
// notes about its SSE packet types per file). Only Eigen's own code is affected; svi's code that
// uses it is compiled with every warning the build asks for. R CMD check does not allow -isystem
// in Makevars, hence the pragma. GCC and clang both honour it; other compilers ignore it.
#pragma once
#if defined(__GNUC__)
#pragma GCC system_header
#endif
#include <Eigen/Dense>
