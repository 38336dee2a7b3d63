// Reading R lists by element name, and environments by symbol, from C++ (site messages,
// optimizer states, compiled-step descriptions).
#pragma once
#include <Rinternals.h>
#include <cstring>

namespace glue {

// Lookups in one named list (a site message) by element name; the names are read once, so
// make one Fields for several lookups. (Site messages are read field by field on every step:
// the first characters are compared inline before strcmp() is called.)
struct Fields {
  SEXP list, nms;
  R_xlen_t n;
  explicit Fields(SEXP x)
      : list(x), nms(TYPEOF(x) == VECSXP ? Rf_getAttrib(x, R_NamesSymbol) : R_NilValue),
        n(nms == R_NilValue ? 0 : Rf_xlength(x)) {}
  // The position of the element named `name`, or -1 (also for a list without names, or
  // anything that is not a list).
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

// One lookup: the position of the element of `list` named `name`, or -1.
inline R_xlen_t list_pos(SEXP list, const char* name) { return Fields(list).pos(name); }

// The element of `list` named `name`, or R_NilValue.
inline SEXP list_elt(SEXP list, const char* name) { return Fields(list)[name]; }

// env$sym as R reads it: NULL when unbound.
inline SEXP env_get(SEXP env, SEXP sym) {
  SEXP v = Rf_findVarInFrame(env, sym);
  return v == R_UnboundValue ? R_NilValue : v;
}

}  // namespace glue
