// Tape lifecycle and tensor handles.
#include "glue.h"
#include <algorithm>
#include <cmath>

namespace glue {

namespace {
std::vector<GlueTape*> active;       // tapes now recording, innermost last
std::uint32_t next_serial = 1;
SEXP class_attr() {
  static SEXP cls = [] {
    SEXP c = Rf_mkString("svi_tensor");
    R_PreserveObject(c);
    return c;
  }();
  return cls;
}
void finalize_tape(SEXP xp) {
  auto* g = static_cast<GlueTape*>(R_ExternalPtrAddr(xp));
  if (!g) return;
  delete g;
  R_ClearExternalPtr(xp);
}
}  // namespace

void fail(const std::string& msg) { throw svi::Error(msg); }

GlueTape::~GlueTape() {
  if (serial) active.erase(std::remove(active.begin(), active.end(), this), active.end());
  release();
}

void GlueTape::hold(SEXP x) {
  if (keep == R_NilValue) {
    keep = Rf_allocVector(VECSXP, 64);
    R_PreserveObject(keep);
  } else if (nkeep == Rf_xlength(keep)) {
    SEXP bigger = PROTECT(Rf_allocVector(VECSXP, 2 * nkeep));
    for (int i = 0; i < nkeep; ++i) SET_VECTOR_ELT(bigger, i, VECTOR_ELT(keep, i));
    R_PreserveObject(bigger);
    R_ReleaseObject(keep);
    keep = bigger;
    UNPROTECT(1);
  }
  SET_VECTOR_ELT(keep, nkeep++, x);
}

void GlueTape::release() {
  if (keep != R_NilValue) {
    R_ReleaseObject(keep);
    keep = R_NilValue;
  }
  nkeep = 0;
  if (clean != R_NilValue) {
    R_ReleaseObject(clean);
    clean = R_NilValue;
  }
  nclean = 0;
}

namespace {
constexpr int kCleanSlots = 8;         // data vectors remembered per tape
constexpr R_xlen_t kCleanMinLength = 256;  // shorter ones are cheaper to rescan
}  // namespace

bool GlueTape::known_clean(SEXP x) const {
  if (clean == R_NilValue) return false;
  for (int i = 0; i < kCleanSlots; ++i)
    if (VECTOR_ELT(clean, i) == x) return true;
  return false;
}

void GlueTape::mark_clean(SEXP x) {
  if (Rf_xlength(x) < kCleanMinLength) return;
  if (clean == R_NilValue) {
    clean = Rf_allocVector(VECSXP, kCleanSlots);
    R_PreserveObject(clean);
  }
  SET_VECTOR_ELT(clean, nclean % kCleanSlots, x);  // oldest out
  ++nclean;
}

GlueTape* tape_from_xptr(SEXP xp) {
  if (TYPEOF(xp) != EXTPTRSXP || !R_ExternalPtrAddr(xp))
    fail("this svi tape is no longer valid (was it saved and reloaded?)");
  return static_cast<GlueTape*>(R_ExternalPtrAddr(xp));
}

void tape_begin(GlueTape& g) {
  if (g.serial) fail("this tape is already recording");
  g.tape.clear();
  if (g.keep != R_NilValue) {  // a frozen tape being reused: let go of its constants
    for (int i = 0; i < g.nkeep; ++i) SET_VECTOR_ELT(g.keep, i, R_NilValue);
    g.nkeep = 0;
  }
  g.serial = next_serial++;
  if (next_serial == 0) next_serial = 1;
  active.push_back(&g);
}

void tape_end(GlueTape& g) {
  if (!g.serial) return;
  active.erase(std::remove(active.begin(), active.end(), &g), active.end());
  g.serial = 0;
  if (g.keep != R_NilValue) {  // drop references but keep the list for the next recording
    for (int i = 0; i < g.nkeep; ++i) SET_VECTOR_ELT(g.keep, i, R_NilValue);
    g.nkeep = 0;
  }
}

void tape_freeze(GlueTape& g) {
  if (!g.serial) return;
  active.erase(std::remove(active.begin(), active.end(), &g), active.end());
  g.serial = 0;
}

GlueTape* current_tape() { return active.empty() ? nullptr : active.back(); }

SEXP make_handle(const GlueTape& g, int idx) {
  std::uintptr_t code = (std::uintptr_t(g.serial) << 32) | std::uint32_t(idx);
  SEXP h = PROTECT(R_MakeExternalPtr(reinterpret_cast<void*>(code), R_NilValue, R_NilValue));
  Rf_setAttrib(h, R_ClassSymbol, class_attr());
  SET_S4_OBJECT(h);  // lets %*% (an S4-only internal generic in R < 4.3) dispatch
  UNPROTECT(1);
  return h;
}

bool is_handle(SEXP x) { return TYPEOF(x) == EXTPTRSXP && Rf_inherits(x, "svi_tensor"); }

static std::uintptr_t handle_code(SEXP h) {
  return reinterpret_cast<std::uintptr_t>(R_ExternalPtrAddr(h));
}

GlueTape& handle_tape(SEXP h) {
  std::uint32_t serial = std::uint32_t(handle_code(h) >> 32);
  for (GlueTape* g : active)
    if (g->serial == serial && serial != 0) return *g;
  fail("stale tensor handle: it belongs to a tape that has finished (a completed step or "
       "value_and_grad() call). Handles are only valid while their model, guide or function "
       "is running; use the returned values instead");
}

int handle_index(SEXP h) { return int(std::uint32_t(handle_code(h) & 0xffffffffu)); }

svi::Shape shape_of(SEXP x) {
  svi::Shape s = svi::Shape::vec(Rf_xlength(x));
  SEXP dim = Rf_getAttrib(x, R_DimSymbol);
  if (dim != R_NilValue) {
    int nd = Rf_length(dim);
    if (nd > svi::kMaxDims) fail("arrays with more than 8 dimensions are not supported");
    s.nd = nd;
    for (int i = 0; i < nd; ++i) s.d[i] = INTEGER(dim)[i];
  }
  return s;
}

SEXP to_r(const svi::Shape& s, const double* v) {
  SEXP out = PROTECT(Rf_allocVector(REALSXP, s.n));
  std::copy(v, v + s.n, REAL(out));
  if (s.nd > 0) {
    SEXP dim = PROTECT(Rf_allocVector(INTSXP, s.nd));
    for (int i = 0; i < s.nd; ++i) INTEGER(dim)[i] = s.d[i];
    Rf_setAttrib(out, R_DimSymbol, dim);
    UNPROTECT(1);
  }
  UNPROTECT(1);
  return out;
}

int as_node(GlueTape& g, SEXP x, const char* what) {
  if (is_handle(x)) {
    GlueTape& h = handle_tape(x);
    if (&h != &g) fail(std::string(what) + " is a tensor handle from a different tape");
    int idx = handle_index(x);
    g.tape.check_index(idx);
    return idx;
  }
  svi::Shape s = shape_of(x);
  switch (TYPEOF(x)) {
    case REALSXP: {
      const double* v = REAL(x);
      if (!g.known_clean(x)) {
        R_xlen_t i = first_nan(v, s.n);
        if (i >= 0)
          fail(std::string(what) + " contains NA or NaN (at position " + std::to_string(i + 1) +
               "); svi does not propagate missing values through the tape");
        g.mark_clean(x);
      }
      g.hold(x);
      return g.tape.constant_ref(v, s);
    }
    case INTSXP:
    case LGLSXP: {
      const int* v = TYPEOF(x) == INTSXP ? INTEGER(x) : LOGICAL(x);
      std::vector<double> d(s.n);
      for (R_xlen_t i = 0; i < s.n; ++i) {
        if (v[i] == NA_INTEGER)
          fail(std::string(what) + " contains NA (at position " + std::to_string(i + 1) + ")");
        d[i] = v[i];
      }
      return g.tape.leaf(svi::Leaf::Constant, d.data(), s);
    }
    default:
      fail(std::string(what) + " must be numeric or a tensor handle, not " +
           Rf_type2char(TYPEOF(x)));
  }
}

}  // namespace glue

using namespace glue;

// [[Rcpp::export(rng = false)]]
SEXP cpp_tape_new() {
  auto* g = new GlueTape();
  g->tape.rng = &r_rng();
  SEXP xp = PROTECT(R_MakeExternalPtr(g, R_NilValue, R_NilValue));
  R_RegisterCFinalizerEx(xp, finalize_tape, TRUE);
  UNPROTECT(1);
  return xp;
}

// [[Rcpp::export(rng = false)]]
void cpp_tape_start(SEXP xp) { tape_begin(*tape_from_xptr(xp)); }

// [[Rcpp::export(rng = false)]]
void cpp_tape_stop(SEXP xp) {
  if (TYPEOF(xp) == EXTPTRSXP && R_ExternalPtrAddr(xp)) tape_end(*tape_from_xptr(xp));
}

// [[Rcpp::export(rng = false)]]
int cpp_tape_size(SEXP xp) { return tape_from_xptr(xp)->tape.size(); }

// A leaf to differentiate with respect to (value_and_grad's x, parameters).
// [[Rcpp::export(rng = false)]]
SEXP cpp_tape_input(SEXP xp, SEXP x, std::string what) {
  GlueTape& g = *tape_from_xptr(xp);
  if (!g.serial) fail("the tape is not recording");
  if (TYPEOF(x) != REALSXP && TYPEOF(x) != INTSXP && TYPEOF(x) != LGLSXP)
    fail(what + " must be numeric, not " + Rf_type2char(TYPEOF(x)));
  SEXP xd = PROTECT(Rf_coerceVector(x, REALSXP));
  svi::Shape s = shape_of(x);
  const double* v = REAL(xd);
  R_xlen_t bad = first_nan(v, s.n);
  if (bad >= 0) fail(what + " contains NA or NaN (at position " + std::to_string(bad + 1) + ")");
  int idx = g.tape.leaf(svi::Leaf::Input, v, s);
  UNPROTECT(1);
  return make_handle(g, idx);
}

// Runs the reverse sweep from `out` (a length-1 handle).
// [[Rcpp::export(rng = false)]]
void cpp_tape_backward(SEXP out) {
  if (!is_handle(out)) fail("backward() needs a tensor handle");
  handle_tape(out).tape.backward(handle_index(out));
}

// The gradient accumulated at a handle's node by the last backward().
// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_grad(SEXP h) {
  GlueTape& g = handle_tape(h);
  int i = handle_index(h);
  svi::Vec gr = g.tape.grad(i);
  return to_r(g.tape.shape(i), gr.data());
}

// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_value(SEXP h) {
  if (!is_handle(h)) return h;
  GlueTape& g = handle_tape(h);
  int i = handle_index(h);
  return to_r(g.tape.shape(i), g.tape.node(i).data());
}

// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_dim(SEXP h) {
  GlueTape& g = handle_tape(h);
  const svi::Shape& s = g.tape.shape(handle_index(h));
  if (s.nd == 0) return R_NilValue;
  Rcpp::IntegerVector d(s.nd);
  for (int i = 0; i < s.nd; ++i) d[i] = s.d[i];
  return d;
}

// [[Rcpp::export(rng = false)]]
double cpp_tensor_length(SEXP h) {
  GlueTape& g = handle_tape(h);
  return double(g.tape.shape(handle_index(h)).n);
}

// Whether a handle still points at a recording tape (FALSE for stale or reloaded handles).
// [[Rcpp::export(rng = false)]]
bool cpp_tensor_is_live(SEXP h) {
  if (!is_handle(h)) return false;
  std::uint32_t serial = std::uint32_t(reinterpret_cast<std::uintptr_t>(R_ExternalPtrAddr(h)) >> 32);
  if (!serial) return false;
  GlueTape* g = current_tape();
  (void)g;
  try { handle_tape(h); } catch (...) { return false; }
  return handle_index(h) < handle_tape(h).tape.size();
}

namespace glue {

RRng& r_rng() {
  static RRng rng;
  return rng;
}

namespace {
GlueTape& scratch() {
  static GlueTape* g = [] { auto* t = new GlueTape(); t->tape.rng = &r_rng(); return t; }();
  return *g;
}
}  // namespace

ScratchScope::ScratchScope() : g(scratch()) {
  if (g.serial) tape_end(g);  // a scope left by an error elsewhere
  tape_begin(g);
}
ScratchScope::~ScratchScope() { tape_end(g); }

GlueTape* tape_among(std::initializer_list<SEXP> xs) {
  for (SEXP x : xs)
    if (is_handle(x)) return &handle_tape(x);
  return nullptr;
}

}  // namespace glue
