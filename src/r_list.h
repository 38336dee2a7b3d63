// Reading R lists by element name from C++ (optimizer states, compiled-step descriptions).
#pragma once
#include <Rinternals.h>
#include <cstring>

namespace glue {

// The position of the element of `list` named `name`, or -1 (also for a list without names,
// or anything that is not a list).
// (Site messages are read field by field on every step: the first characters are compared
// inline before strcmp() is called.)
inline R_xlen_t list_pos(SEXP list, const char* name) {
  if (TYPEOF(list) != VECSXP) return -1;
  SEXP nms = Rf_getAttrib(list, R_NamesSymbol);
  if (nms == R_NilValue) return -1;
  const R_xlen_t n = Rf_xlength(list);
  for (R_xlen_t i = 0; i < n; ++i) {
    const char* x = CHAR(STRING_ELT(nms, i));
    if (x[0] == name[0] && !std::strcmp(x, name)) return i;
  }
  return -1;
}

// The element of `list` named `name`, or R_NilValue.
inline SEXP list_elt(SEXP list, const char* name) {
  R_xlen_t i = list_pos(list, name);
  return i < 0 ? R_NilValue : VECTOR_ELT(list, i);
}

// Several lookups in one named list (a site message): its names are read once.
struct Fields {
  SEXP list, nms;
  R_xlen_t n;
  explicit Fields(SEXP x)
      : list(x), nms(TYPEOF(x) == VECSXP ? Rf_getAttrib(x, R_NamesSymbol) : R_NilValue),
        n(nms == R_NilValue ? 0 : Rf_xlength(x)) {}
  R_xlen_t pos(const char* name) const {
    for (R_xlen_t i = 0; i < n; ++i) {
      const char* x = CHAR(STRING_ELT(nms, i));
      if (x[0] == name[0] && !std::strcmp(x, name)) return i;
    }
    return -1;
  }
  SEXP operator[](const char* name) const {
    R_xlen_t i = pos(name);
    return i < 0 ? R_NilValue : VECTOR_ELT(list, i);
  }
};

}  // namespace glue
