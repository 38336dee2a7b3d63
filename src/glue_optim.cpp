// R glue for the optimizers: unpacks one parameter's state (plain R values, so it survives
// saveRDS) into the core's structs, runs one step on fresh copies, and hands the new values back.
// The caller's theta, grad and state vectors are never modified.
#include <Rcpp.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <svi/optim/optim.hpp>
#include "commit.h"
#include "optim_slot.h"
#include "r_list.h"

namespace {

[[noreturn]] void fail(const std::string& msg) { throw svi::Error(msg); }

using glue::list_elt;

double num(SEXP list, const char* name, double dflt) {
  SEXP x = list_elt(list, name);
  if (Rf_isNull(x)) return dflt;
  return Rf_asReal(x);
}

bool flag(SEXP list, const char* name) {
  SEXP x = list_elt(list, name);
  return !Rf_isNull(x) && Rf_asLogical(x) == TRUE;
}

// One moment buffer's values, checked against the parameter's length (the slot copies them).
const double* buffer(SEXP buffers, const char* name, R_xlen_t n, const std::string& pname) {
  SEXP b = list_elt(buffers, name);
  if (TYPEOF(b) != REALSXP || Rf_xlength(b) != n)
    fail("the optimizer state of parameter '" + pname + "' does not fit it: its `" + name +
         "` should be a numeric vector of length " + std::to_string(n) +
         " (did the parameter change size, or was the state edited?)");
  return REAL(b);
}

// Adam's settings from a parameter's R state (defaults where a setting is absent).
svi::optim::AdamConfig adam_config(SEXP settings) {
  svi::optim::AdamConfig c;
  c.beta1 = num(settings, "beta1", c.beta1);
  c.beta2 = num(settings, "beta2", c.beta2);
  c.eps = num(settings, "eps", c.eps);
  c.weight_decay = num(settings, "weight_decay", 0.0);
  c.amsgrad = flag(settings, "amsgrad");
  return c;
}

}  // namespace

namespace glue {

OptimSlot::OptimSlot(const std::string& kind_, const std::string& name_, R_xlen_t n_, double step_,
                     double lr_, SEXP bufs, SEXP settings)
    : kind(kind_), name(name_), n(n_), step(static_cast<long long>(step_)), lr(lr_) {
  auto take = [&](const char* b) {
    const double* v = buffer(bufs, b, n, name);
    buffer_names.push_back(b);
    buffers.emplace_back(v, v + n);
  };
  if (kind == "adam") {
    adam = adam_config(settings);
    take("exp_avg");
    take("exp_avg_sq");
    if (adam.amsgrad) take("max_exp_avg_sq");
  } else if (kind == "clipped_adam") {
    cadam.beta1 = num(settings, "beta1", cadam.beta1);
    cadam.beta2 = num(settings, "beta2", cadam.beta2);
    cadam.eps = num(settings, "eps", cadam.eps);
    cadam.weight_decay = num(settings, "weight_decay", 0.0);
    cadam.clip_norm = num(settings, "clip_norm", cadam.clip_norm);
    cadam.lrd = num(settings, "lrd", 1.0);
    take("exp_avg");
    take("exp_avg_sq");
  } else if (kind == "sgd") {
    sgd.momentum = num(settings, "momentum", 0.0);
    sgd.dampening = num(settings, "dampening", 0.0);
    sgd.weight_decay = num(settings, "weight_decay", 0.0);
    sgd.nesterov = flag(settings, "nesterov");
    if (sgd.momentum != 0.0) take("momentum_buffer");
  } else {
    fail("unknown optimizer '" + kind + "'");
  }
  // PyroOptim's clip_args (norm first, then value). ClippedAdam's own clip_norm is an
  // elementwise clamp inside its step instead.
  if (kind != "clipped_adam") {
    clip_norm = num(settings, "clip_norm", NA_REAL);
    clip_value = num(settings, "clip_value", NA_REAL);
  }
  g.resize(static_cast<std::size_t>(n));
}

void OptimSlot::update(double* theta, const double* grad) {
  const double* gp = nullptr;
  if (grad) {
    for (R_xlen_t i = 0; i < n; ++i) {
      if (!std::isfinite(grad[i]))
        fail("the gradient of parameter '" + name + "' is not finite (at position " +
             std::to_string(i + 1) + "); the optimizer cannot use it");
      g[i] = grad[i];
    }
    if (!ISNAN(clip_norm)) svi::optim::clip_grad_norm(g.data(), n, clip_norm);
    if (!ISNAN(clip_value)) svi::optim::clip_grad_value(g.data(), n, clip_value);
    gp = g.data();
  }
  if (kind == "adam") {
    svi::optim::AdamState s;
    s.step = step; s.lr = lr;
    s.exp_avg = buffers[0].data(); s.exp_avg_sq = buffers[1].data();
    if (adam.amsgrad) s.max_exp_avg_sq = buffers[2].data();
    svi::optim::adam_step(theta, gp, n, s, adam);
    step = s.step; lr = s.lr;
  } else if (kind == "clipped_adam") {
    svi::optim::ClippedAdamState s;
    s.step = step; s.lr = lr;
    s.exp_avg = buffers[0].data(); s.exp_avg_sq = buffers[1].data();
    svi::optim::clipped_adam_step(theta, gp, n, s, cadam);
    step = s.step; lr = s.lr;
  } else {
    svi::optim::SgdState s;
    s.step = step; s.lr = lr;
    if (!buffers.empty()) s.momentum_buffer = buffers[0].data();
    svi::optim::sgd_step(theta, gp, n, s, sgd);
    step = s.step; lr = s.lr;
  }
}

SEXP OptimSlot::state_to_r(SEXP old) const {
  SEXP ns = PROTECT(Rf_shallow_duplicate(old));
  SEXP nms = Rf_getAttrib(ns, R_NamesSymbol);
  for (R_xlen_t i = 0; i < Rf_xlength(ns); ++i) {
    const char* f = CHAR(STRING_ELT(nms, i));
    if (!std::strcmp(f, "step")) SET_VECTOR_ELT(ns, i, Rf_ScalarReal(double(step)));
    else if (!std::strcmp(f, "lr")) SET_VECTOR_ELT(ns, i, Rf_ScalarReal(lr));
    else if (!std::strcmp(f, "buffers")) SET_VECTOR_ELT(ns, i, buffers_to_r());
  }
  UNPROTECT(1);
  return ns;
}

SEXP OptimSlot::buffers_to_r() const {
  const R_xlen_t nb = static_cast<R_xlen_t>(buffers.size());
  SEXP out = PROTECT(Rf_allocVector(VECSXP, nb));
  SEXP nms = PROTECT(Rf_allocVector(STRSXP, nb));
  for (R_xlen_t k = 0; k < nb; ++k) {
    const std::vector<double>& b = buffers[k];
    SEXP v = Rf_allocVector(REALSXP, static_cast<R_xlen_t>(b.size()));
    SET_VECTOR_ELT(out, k, v);
    std::copy(b.begin(), b.end(), REAL(v));
    SET_STRING_ELT(nms, k, Rf_mkChar(buffer_names[k].c_str()));
  }
  Rf_setAttrib(out, R_NamesSymbol, nms);
  UNPROTECT(2);
  return out;
}

}  // namespace glue

// One optimizer step for one parameter. grad = NULL means "no gradient this step" (see
// svi/optim/common.hpp). Returns list(value, step, lr, buffers).
// [[Rcpp::export(rng = false)]]
SEXP cpp_optim_step(std::string kind, std::string name, SEXP theta, SEXP grad, double step,
                    double lr, SEXP buffers, SEXP settings) {
  if (TYPEOF(theta) != REALSXP) fail("the value of parameter '" + name + "' must be a double vector");
  const R_xlen_t n = Rf_xlength(theta);
  Rcpp::NumericVector gv;
  if (!Rf_isNull(grad)) {
    if (TYPEOF(grad) != REALSXP && TYPEOF(grad) != INTSXP)
      fail(std::string("the gradient of parameter '") + name + "' must be numeric, not " +
           Rf_type2char(TYPEOF(grad)));
    if (Rf_xlength(grad) != n)
      fail("the gradient of parameter '" + name + "' has length " +
           std::to_string(Rf_xlength(grad)) + " but the parameter has length " + std::to_string(n));
    gv = Rcpp::NumericVector(grad);  // coerces integers; never modified
  }
  glue::OptimSlot slot(kind, name, n, step, lr, buffers, settings);
  Rcpp::NumericVector value = Rcpp::clone(Rcpp::NumericVector(theta));  // keeps attributes
  slot.update(value.begin(), Rf_isNull(grad) ? nullptr : gv.begin());
  return Rcpp::List::create(Rcpp::Named("value") = value,
                            Rcpp::Named("step") = static_cast<double>(slot.step),
                            Rcpp::Named("lr") = slot.lr, Rcpp::Named("buffers") = slot.buffers_to_r());
}

// The lr after a schedule advances to `epoch` (1, 2, ...), from the current lr.
// [[Rcpp::export(rng = false)]]
double cpp_optim_schedule_lr(std::string kind, double lr, double epoch, double step_size,
                             double gamma, Rcpp::NumericVector milestones) {
  svi::optim::Schedule s;
  if (kind == "step") s.kind = svi::optim::ScheduleKind::step;
  else if (kind == "exponential") s.kind = svi::optim::ScheduleKind::exponential;
  else if (kind == "multistep") s.kind = svi::optim::ScheduleKind::multistep;
  else fail("unknown learning-rate schedule '" + kind + "'");
  s.step_size = static_cast<long long>(step_size);
  s.gamma = gamma;
  for (double m : milestones) s.milestones.push_back(static_cast<long long>(m));
  return svi::optim::schedule_next_lr(s, lr, static_cast<long long>(epoch));
}

// One update of several parameters with one optimizer (the dynamic step's batch): states,
// values and grads are parallel lists (states as in R/optim-state.R). Returns
// list(values, states) with the new values (attributes kept) and states, or NULL when any
// parameter has no state yet, belongs to another optimizer or does not fit its gradient:
// R then takes its parameter-by-parameter path, which creates states and explains errors.
// Plain Adam (no AMSGrad, no clipping) of one parameter without unpacking its state into an
// OptimSlot: the same adam_step() on fresh copies of theta and the moment buffers, so the
// result is identical; about a fifth of the work for the small parameters of a dynamic step.
// Writes the new value and state and returns true, or returns false for the OptimSlot path.
static bool adam_plain_step(SEXP st, SEXP th, SEXP gr, SEXP* value_out, SEXP* state_out) {
  SEXP settings = list_elt(st, "settings");
  if (TYPEOF(settings) != VECSXP || flag(settings, "amsgrad") ||
      !Rf_isNull(list_elt(settings, "clip_norm")) || !Rf_isNull(list_elt(settings, "clip_value")))
    return false;
  const R_xlen_t n = Rf_xlength(th);
  SEXP bufs = list_elt(st, "buffers");
  SEXP ea = list_elt(bufs, "exp_avg"), eas = list_elt(bufs, "exp_avg_sq");
  if (TYPEOF(ea) != REALSXP || TYPEOF(eas) != REALSXP || Rf_xlength(ea) != n || Rf_xlength(eas) != n)
    return false;
  const R_xlen_t at_step = glue::list_pos(st, "step"), at_lr = glue::list_pos(st, "lr"),
                 at_bufs = glue::list_pos(st, "buffers"), at_ea = glue::list_pos(bufs, "exp_avg"),
                 at_eas = glue::list_pos(bufs, "exp_avg_sq");
  if (at_step < 0 || at_lr < 0 || at_bufs < 0) return false;
  const double* g = REAL(gr);
  for (R_xlen_t i = 0; i < n; ++i)
    if (!std::isfinite(g[i])) return false;   // the slot path reports it
  const svi::optim::AdamConfig cfg = adam_config(settings);   // amsgrad is false here
  SEXP value = PROTECT(Rf_duplicate(th));  // keeps attributes
  SEXP new_ea = PROTECT(Rf_duplicate(ea));
  SEXP new_eas = PROTECT(Rf_duplicate(eas));
  svi::optim::AdamState as;
  as.step = static_cast<long long>(Rf_asReal(VECTOR_ELT(st, at_step)));
  as.lr = Rf_asReal(VECTOR_ELT(st, at_lr));
  as.exp_avg = REAL(new_ea);
  as.exp_avg_sq = REAL(new_eas);
  svi::optim::adam_step(REAL(value), g, static_cast<std::size_t>(n), as, cfg);
  SEXP new_bufs = PROTECT(Rf_shallow_duplicate(bufs));
  SET_VECTOR_ELT(new_bufs, at_ea, new_ea);
  SET_VECTOR_ELT(new_bufs, at_eas, new_eas);
  SEXP ns = PROTECT(Rf_shallow_duplicate(st));
  SET_VECTOR_ELT(ns, at_step, Rf_ScalarReal(double(as.step)));
  SET_VECTOR_ELT(ns, at_lr, Rf_ScalarReal(as.lr));
  SET_VECTOR_ELT(ns, at_bufs, new_bufs);
  *value_out = value;
  *state_out = ns;
  UNPROTECT(5);
  return true;
}

static SEXP optim_step_all(SEXP states, SEXP values, SEXP grads, std::string optimizer) {
  const R_xlen_t np = Rf_xlength(states);
  if (Rf_xlength(values) != np || Rf_xlength(grads) != np) return R_NilValue;
  SEXP names = Rf_getAttrib(grads, R_NamesSymbol);
  for (R_xlen_t k = 0; k < np; ++k) {
    SEXP st = VECTOR_ELT(states, k), th = VECTOR_ELT(values, k), gr = VECTOR_ELT(grads, k);
    SEXP kind = list_elt(st, "optimizer");
    if (TYPEOF(st) != VECSXP || TYPEOF(kind) != STRSXP || optimizer != CHAR(STRING_ELT(kind, 0)))
      return R_NilValue;
    if (TYPEOF(th) != REALSXP || TYPEOF(gr) != REALSXP || Rf_xlength(th) != Rf_xlength(gr))
      return R_NilValue;
  }
  SEXP new_values = PROTECT(Rf_allocVector(VECSXP, np));
  SEXP new_states = PROTECT(Rf_allocVector(VECSXP, np));
  for (R_xlen_t k = 0; k < np; ++k) {
    SEXP st = VECTOR_ELT(states, k), th = VECTOR_ELT(values, k), gr = VECTOR_ELT(grads, k);
    if (optimizer == "adam") {
      SEXP value, ns;
      if (adam_plain_step(st, th, gr, &value, &ns)) {
        SET_VECTOR_ELT(new_values, k, value);
        SET_VECTOR_ELT(new_states, k, ns);
        continue;
      }
    }
    std::string name = names == R_NilValue ? std::to_string(k + 1) : CHAR(STRING_ELT(names, k));
    const R_xlen_t n = Rf_xlength(th);
    glue::OptimSlot slot(optimizer, name, n, Rf_asReal(list_elt(st, "step")), Rf_asReal(list_elt(st, "lr")),
                         list_elt(st, "buffers"), list_elt(st, "settings"));
    SEXP value = Rf_duplicate(th);  // keeps attributes
    SET_VECTOR_ELT(new_values, k, value);
    slot.update(REAL(value), REAL(gr));
    SET_VECTOR_ELT(new_states, k, slot.state_to_r(st));
  }
  Rf_setAttrib(new_values, R_NamesSymbol, names);
  Rf_setAttrib(new_states, R_NamesSymbol, names);
  SEXP out = PROTECT(Rf_allocVector(VECSXP, 2));
  SET_VECTOR_ELT(out, 0, new_values);
  SET_VECTOR_ELT(out, 1, new_states);
  SEXP onames = PROTECT(Rf_allocVector(STRSXP, 2));
  SET_STRING_ELT(onames, 0, Rf_mkChar("values"));
  SET_STRING_ELT(onames, 1, Rf_mkChar("states"));
  Rf_setAttrib(out, R_NamesSymbol, onames);
  UNPROTECT(4);
  return out;
}

// The whole dynamic-step update: for every gradient in `grads` (named by parameter), the
// parameter's value in store$values and its optimizer state in `states_env` are read and
// stepped, and the new values list and states are added to `commit` (commit.h) -- nothing is
// stored until the caller applies it, so the update is all or nothing. FALSE (nothing added)
// when a parameter has no state yet or its state does not fit, for R's parameter-by-parameter
// path.
bool glue::optim_apply_into(SEXP store, SEXP states_env, SEXP grads, const std::string& optimizer,
                            Commit& commit) {
  SEXP names = Rf_getAttrib(grads, R_NamesSymbol);
  SEXP values = Rf_findVarInFrame(store, Rf_install("values"));
  if (TYPEOF(values) != VECSXP || names == R_NilValue) return false;
  SEXP vnames = Rf_getAttrib(values, R_NamesSymbol);
  const R_xlen_t np = Rf_xlength(grads);
  std::vector<R_xlen_t> at(np);
  SEXP states = PROTECT(Rf_allocVector(VECSXP, np));
  SEXP thetas = PROTECT(Rf_allocVector(VECSXP, np));
  for (R_xlen_t k = 0; k < np; ++k) {
    const char* nm = CHAR(STRING_ELT(names, k));
    SEXP st = Rf_findVarInFrame(states_env, Rf_install(nm));
    if (st == R_UnboundValue) { UNPROTECT(2); return false; }
    at[k] = -1;
    for (R_xlen_t i = 0; vnames != R_NilValue && i < Rf_xlength(values); ++i)
      if (!std::strcmp(CHAR(STRING_ELT(vnames, i)), nm)) { at[k] = i; break; }
    if (at[k] < 0) { UNPROTECT(2); return false; }
    SET_VECTOR_ELT(states, k, st);
    SET_VECTOR_ELT(thetas, k, VECTOR_ELT(values, at[k]));
  }
  SEXP res = PROTECT(optim_step_all(states, thetas, grads, optimizer));
  if (res == R_NilValue) { UNPROTECT(3); return false; }
  SEXP new_values = PROTECT(Rf_shallow_duplicate(values));
  SEXP vals = VECTOR_ELT(res, 0), sts = VECTOR_ELT(res, 1);
  for (R_xlen_t k = 0; k < np; ++k) SET_VECTOR_ELT(new_values, at[k], VECTOR_ELT(vals, k));
  commit.bind(store, Rf_install("values"), new_values);
  for (R_xlen_t k = 0; k < np; ++k)
    commit.bind(states_env, Rf_install(CHAR(STRING_ELT(names, k))), VECTOR_ELT(sts, k));
  UNPROTECT(4);
  return true;
}

// optim_apply_into(), stored at once (R's apply_update(), which holds interrupts itself).
// [[Rcpp::export(rng = false)]]
bool cpp_optim_apply(SEXP store, SEXP states_env, SEXP grads, std::string optimizer) {
  glue::Commit commit(Rf_xlength(grads) + 1);
  if (!optim_apply_into(store, states_env, grads, optimizer, commit)) return false;
  commit.apply();
  return true;
}
