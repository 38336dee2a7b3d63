// The C++ parts of the usual svi_step() (R/svi-step-lean.R): setting up the step's state
// (context, trace records, handler stacks) and tearing it down, and its end in one call -- the
// model/guide checks' structure key, the all-pathwise Trace_ELBO, the reverse sweep, the
// gradients and the optimizer update -- what checked_traces(), elbo_particle(), elbo_result(),
// step_is_finite() and apply_update() do in R, through the same C++ functions, so the steps
// are identical.
#include "glue.h"
#include "commit.h"
#include "optim_slot.h"
#include <svi/ops/arith.hpp>
#include "r_list.h"
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <string>

using namespace glue;

// Defined with their R entry points in glue_fastpath.cpp.
std::string cpp_sites_key(SEXP model, SEXP guide);
SEXP cpp_elbo_reparam(SEXP model, SEXP guide);
SEXP cpp_tape_grads(SEXP leaves);

namespace {

SEXP var(SEXP env, const char* name) { return env_get(env, Rf_install(name)); }

// The sample sites of a trace record (its `sites` where `types` is "sample"), as a named list.
SEXP sample_sites(SEXP rec) {
  SEXP sites = var(rec, "sites"), types = var(rec, "types");
  const R_xlen_t n = Rf_xlength(sites);
  if (TYPEOF(sites) != VECSXP || TYPEOF(types) != STRSXP || Rf_xlength(types) != n) return R_NilValue;
  R_xlen_t k = 0;
  for (R_xlen_t i = 0; i < n; ++i) k += !std::strcmp(CHAR(STRING_ELT(types, i)), "sample");
  SEXP out = PROTECT(Rf_allocVector(VECSXP, k));
  SEXP nms = PROTECT(Rf_allocVector(STRSXP, k));
  SEXP old = Rf_getAttrib(sites, R_NamesSymbol);
  for (R_xlen_t i = 0, j = 0; i < n; ++i) {
    if (std::strcmp(CHAR(STRING_ELT(types, i)), "sample")) continue;
    SET_VECTOR_ELT(out, j, VECTOR_ELT(sites, i));
    SET_STRING_ELT(nms, j++, STRING_ELT(old, i));
  }
  Rf_setAttrib(out, R_NamesSymbol, nms);
  UNPROTECT(2);
  return out;
}


SEXP new_env() { return R_NewEnv(R_EmptyEnv, TRUE, 8); }

// A trace record: an environment with sites = list() and types = character(0) (new_trace_rec()).
SEXP new_trace_rec() {
  SEXP rec = PROTECT(new_env());
  Rf_defineVar(Rf_install("sites"), Rf_allocVector(VECSXP, 0), rec);
  Rf_defineVar(Rf_install("types"), Rf_allocVector(STRSXP, 0), rec);
  UNPROTECT(1);
  return rec;
}

// list(type = "trace", rec = rec) or list(type = "replay", sites = sites)
SEXP data_handler(const char* type, const char* field, SEXP value) {
  SEXP h = PROTECT(Rf_allocVector(VECSXP, 2));
  SEXP nms = PROTECT(Rf_allocVector(STRSXP, 2));
  SET_STRING_ELT(nms, 0, Rf_mkChar("type"));
  SET_STRING_ELT(nms, 1, Rf_mkChar(field));
  SET_VECTOR_ELT(h, 0, Rf_mkString(type));
  SET_VECTOR_ELT(h, 1, value);
  Rf_setAttrib(h, R_NamesSymbol, nms);
  UNPROTECT(2);
  return h;
}

// c(extra, handlers)
SEXP stack_of(SEXP extra, std::initializer_list<SEXP> hs) {
  const R_xlen_t ne = Rf_xlength(extra);
  SEXP out = PROTECT(Rf_allocVector(VECSXP, ne + R_xlen_t(hs.size())));
  for (R_xlen_t i = 0; i < ne; ++i) SET_VECTOR_ELT(out, i, VECTOR_ELT(extra, i));
  R_xlen_t i = ne;
  for (SEXP h : hs) SET_VECTOR_ELT(out, i++, h);
  UNPROTECT(1);
  return out;
}

}  // namespace

// For a trace_elbo() step whose structure was checked on an earlier step (`warned` holds its
// key) and whose guide is all pathwise: records -ELBO, runs backward, reads the gradients and,
// when loss and gradients are finite and every parameter has an optimizer state, updates the
// parameters and the step count. Returns list(loss, grads, finite_grads, averages, updated),
// or NULL (R's path: first steps, changed structures, score-function sites, meanfield_elbo()).
// [[Rcpp::export(rng = false)]]
SEXP cpp_lean_finish(SEXP m_rec, SEXP g_rec, SEXP ctx, SEXP s, SEXP warned) {
  if (!Rf_inherits(var(s, "loss"), "svi_trace_elbo") || TYPEOF(warned) != ENVSXP) return R_NilValue;
  SEXP leaves = var(ctx, "leaves");
  if (TYPEOF(leaves) != VECSXP || !Rf_xlength(leaves)) return R_NilValue;
  SEXP old_key = var(warned, ".checked_structure");
  if (TYPEOF(old_key) != STRSXP || Rf_xlength(old_key) != 1) return R_NilValue;
  if (cpp_sites_key(var(m_rec, "sites"), var(g_rec, "sites")) != CHAR(STRING_ELT(old_key, 0)))
    return R_NilValue;
  SEXP model = PROTECT(sample_sites(m_rec));
  SEXP guide = PROTECT(sample_sites(g_rec));
  if (model == R_NilValue || guide == R_NilValue) { UNPROTECT(2); return R_NilValue; }
  SEXP elbo = PROTECT(cpp_elbo_reparam(model, guide));
  if (!is_handle(elbo)) { UNPROTECT(3); return R_NilValue; }
  GlueTape& g = handle_tape(elbo);
  const int loss = svi::neg(g.tape, handle_index(elbo));   // what -elbo records in R
  if (g.tape.shape(loss).n != 1) { UNPROTECT(3); return R_NilValue; }
  const double value = g.tape.node(loss).data()[0];
  g.tape.backward(loss);
  SEXP grads = PROTECT(cpp_tape_grads(leaves));
  const bool finite = LOGICAL(Rf_getAttrib(grads, Rf_install("finite")))[0] == TRUE;
  Rf_setAttrib(grads, Rf_install("finite"), R_NilValue);
  bool updated = false;
  if (finite && std::isfinite(value)) {
    SEXP optim = var(s, "optim"), state = var(s, "optim_state");
    SEXP name = list_elt(optim, "name");
    if (TYPEOF(state) == ENVSXP && TYPEOF(name) == STRSXP && Rf_xlength(name) == 1) {
      // the update and the step count bound together (commit.h)
      SEXP steps = var(s, "steps");
      Commit commit(Rf_xlength(grads) + 2);
      updated = TYPEOF(steps) == INTSXP && Rf_xlength(steps) == 1 &&
                optim_apply_into(var(s, "store"), var(state, "params"), grads,
                                 CHAR(STRING_ELT(name, 0)), commit);
      if (updated) {
        commit.bind(s, Rf_install("steps"), Rf_ScalarInteger(INTEGER(steps)[0] + 1));
        commit.apply();
      }
    }
  }
  static const char* names[] = {"loss", "grads", "finite_grads", "averages", "updated"};
  SEXP out = PROTECT(Rf_allocVector(VECSXP, 5));
  SEXP nms = PROTECT(Rf_allocVector(STRSXP, 5));
  for (int i = 0; i < 5; ++i) SET_STRING_ELT(nms, i, Rf_mkChar(names[i]));
  SET_VECTOR_ELT(out, 0, Rf_ScalarReal(value));
  SET_VECTOR_ELT(out, 1, grads);
  SET_VECTOR_ELT(out, 2, Rf_ScalarLogical(finite));
  SET_VECTOR_ELT(out, 3, Rf_allocVector(VECSXP, 0));
  SET_VECTOR_ELT(out, 4, Rf_ScalarLogical(updated));
  Rf_setAttrib(out, R_NamesSymbol, nms);
  UNPROTECT(6);
  return out;
}

// Starts the step: a fresh context (new_ctx(store, tape)) and guide and model trace records; the
// tape starts recording; the state (`.svi`) gets the svi object's warning memory, the context,
// whether every handler in `extra` is one the C++ walk knows (`plain`), and the guide's stack
// c(extra, trace). Returns list(ctx, guide record, model record, old warning memory, extra),
// which cpp_lean_model() takes.
// [[Rcpp::export(rng = false)]]
SEXP cpp_lean_begin(SEXP s, SEXP state, SEXP tape, SEXP extra, bool plain) {
  SEXP ctx = PROTECT(new_env());
  Rf_defineVar(Rf_install("store"), var(s, "store"), ctx);
  Rf_defineVar(Rf_install("tape"), tape, ctx);
  Rf_defineVar(Rf_install("compile"), Rf_ScalarLogical(FALSE), ctx);
  Rf_defineVar(Rf_install("handles"), Rf_allocVector(VECSXP, 0), ctx);
  Rf_defineVar(Rf_install("leaves"), Rf_allocVector(VECSXP, 0), ctx);
  SEXP g = PROTECT(new_trace_rec());
  SEXP m = PROTECT(new_trace_rec());
  SEXP out = PROTECT(Rf_allocVector(VECSXP, 5));
  SET_VECTOR_ELT(out, 0, ctx);
  SET_VECTOR_ELT(out, 1, g);
  SET_VECTOR_ELT(out, 2, m);
  SET_VECTOR_ELT(out, 3, var(state, "warned"));
  SET_VECTOR_ELT(out, 4, extra);
  SEXP stack = PROTECT(stack_of(extra, {data_handler("trace", "rec", g)}));
  tape_begin(*tape_from_xptr(tape));
  Rf_defineVar(Rf_install("warned"), var(s, "warned"), state);
  Rf_defineVar(Rf_install("ctx"), ctx, state);
  Rf_defineVar(Rf_install("plain"), Rf_ScalarLogical(plain), state);
  Rf_defineVar(Rf_install("stack"), stack, state);
  UNPROTECT(5);
  return out;
}

// The model's stack: c(extra, trace into the model record, replay of the guide's sites).
// [[Rcpp::export(rng = false)]]
void cpp_lean_model(SEXP step, SEXP state) {
  SEXP g = VECTOR_ELT(step, 1), m = VECTOR_ELT(step, 2);
  SEXP trace = PROTECT(data_handler("trace", "rec", m));
  SEXP replay = PROTECT(data_handler("replay", "sites", var(g, "sites")));
  Rf_defineVar(Rf_install("stack"), stack_of(VECTOR_ELT(step, 4), {trace, replay}), state);
  UNPROTECT(2);
}

// Ends the step (also on error or interrupt, also when cpp_lean_begin() never ran: lean_step()
// registers this before it): the state as it was outside any step, the old warning memory
// back, the tape stopped (stopping twice, or a tape that never started, is fine).
// [[Rcpp::export(rng = false)]]
void cpp_lean_end(SEXP old_warned, SEXP state, SEXP tape) {
  Rf_defineVar(Rf_install("stack"), Rf_allocVector(VECSXP, 0), state);
  Rf_defineVar(Rf_install("plain"), Rf_ScalarLogical(TRUE), state);
  Rf_defineVar(Rf_install("ctx"), R_NilValue, state);
  Rf_defineVar(Rf_install("warned"), old_warned, state);
  if (TYPEOF(tape) == EXTPTRSXP && R_ExternalPtrAddr(tape)) tape_end(*tape_from_xptr(tape));
}
