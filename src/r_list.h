// Reading R lists by element name from C++ (optimizer states, compiled-step descriptions).
#pragma once
#include <Rinternals.h>
#include <cstring>

namespace glue {

// The position of the element of `list` named `name`, or -1 (also for a list without names,
// or anything that is not a list).
inline R_xlen_t list_pos(SEXP list, const char* name) {
  SEXP nms = Rf_getAttrib(list, R_NamesSymbol);
  if (TYPEOF(list) != VECSXP || nms == R_NilValue) return -1;
  for (R_xlen_t i = 0; i < Rf_xlength(list); ++i)
    if (!std::strcmp(CHAR(STRING_ELT(nms, i)), name)) return i;
  return -1;
}

// The element of `list` named `name`, or R_NilValue.
inline SEXP list_elt(SEXP list, const char* name) {
  R_xlen_t i = list_pos(list, name);
  return i < 0 ? R_NilValue : VECTOR_ELT(list, i);
}

}  // namespace glue
