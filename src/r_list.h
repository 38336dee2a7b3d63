// Reading R lists by element name from C++ (optimizer states, compiled-step descriptions).
#pragma once
#include <Rinternals.h>
#include <cstring>

namespace glue {

// The element of `list` named `name`, or R_NilValue.
inline SEXP list_elt(SEXP list, const char* name) {
  SEXP nms = Rf_getAttrib(list, R_NamesSymbol);
  if (nms == R_NilValue) return R_NilValue;
  for (R_xlen_t i = 0; i < Rf_xlength(list); ++i)
    if (!std::strcmp(CHAR(STRING_ELT(nms, i)), name)) return VECTOR_ELT(list, i);
  return R_NilValue;
}

}  // namespace glue
