// R glue for the optimizers: unpacks one parameter's state (plain R values, so it survives
// saveRDS) into the core's structs, runs one step on fresh copies, and hands the new values back.
// The caller's theta, grad and state vectors are never modified.
#include <Rcpp.h>
#include <cmath>
#include <cstring>
#include <string>
#include <svi/optim/optim.hpp>

namespace {

[[noreturn]] void fail(const std::string& msg) { throw svi::Error(msg); }

SEXP elt(SEXP list, const char* name) {
  SEXP nms = Rf_getAttrib(list, R_NamesSymbol);
  for (R_xlen_t i = 0; i < Rf_xlength(list); ++i)
    if (!std::strcmp(CHAR(STRING_ELT(nms, i)), name)) return VECTOR_ELT(list, i);
  return R_NilValue;
}

double num(SEXP list, const char* name, double dflt) {
  SEXP x = elt(list, name);
  if (Rf_isNull(x)) return dflt;
  return Rf_asReal(x);
}

bool flag(SEXP list, const char* name) {
  SEXP x = elt(list, name);
  return !Rf_isNull(x) && Rf_asLogical(x) == TRUE;
}

// A fresh copy of one moment buffer, checked against the parameter's length.
Rcpp::NumericVector buffer(SEXP buffers, const char* name, R_xlen_t n, const std::string& pname) {
  SEXP b = elt(buffers, name);
  if (TYPEOF(b) != REALSXP || Rf_xlength(b) != n)
    fail("the optimizer state of parameter '" + pname + "' does not fit it: its `" + name +
         "` should be a numeric vector of length " + std::to_string(n) +
         " (did the parameter change size, or was the state edited?)");
  return Rcpp::clone(Rcpp::NumericVector(b));
}

}  // namespace

// One optimizer step for one parameter. grad = NULL means "no gradient this step" (see
// svi/optim/common.hpp). Returns list(value, step, lr, buffers).
// [[Rcpp::export(rng = false)]]
SEXP cpp_optim_step(std::string kind, std::string name, SEXP theta, SEXP grad, double step,
                    double lr, SEXP buffers, SEXP settings) {
  if (TYPEOF(theta) != REALSXP) fail("the value of parameter '" + name + "' must be a double vector");
  const R_xlen_t n = Rf_xlength(theta);
  Rcpp::NumericVector g;
  const double* gp = nullptr;
  if (!Rf_isNull(grad)) {
    if (TYPEOF(grad) != REALSXP && TYPEOF(grad) != INTSXP)
      fail(std::string("the gradient of parameter '") + name + "' must be numeric, not " +
           Rf_type2char(TYPEOF(grad)));
    if (Rf_xlength(grad) != n)
      fail("the gradient of parameter '" + name + "' has length " +
           std::to_string(Rf_xlength(grad)) + " but the parameter has length " + std::to_string(n));
    g = Rcpp::clone(Rcpp::NumericVector(grad));  // clipping works in place on our own copy
    for (R_xlen_t i = 0; i < n; ++i)
      if (!std::isfinite(g[i]))
        fail("the gradient of parameter '" + name + "' is not finite (at position " +
             std::to_string(i + 1) + "); the optimizer cannot use it");
    // PyroOptim's clip_args (norm first, then value). ClippedAdam's own clip_norm is an
    // elementwise clamp inside its step instead.
    if (kind != "clipped_adam") {
      const double cn = num(settings, "clip_norm", NA_REAL), cv = num(settings, "clip_value", NA_REAL);
      if (!ISNAN(cn)) svi::optim::clip_grad_norm(g.begin(), n, cn);
      if (!ISNAN(cv)) svi::optim::clip_grad_value(g.begin(), n, cv);
    }
    gp = g.begin();
  }
  Rcpp::NumericVector value = Rcpp::clone(Rcpp::NumericVector(theta));  // keeps attributes
  Rcpp::List out_buffers;
  long long st = static_cast<long long>(step);
  if (kind == "adam") {
    svi::optim::AdamConfig c;
    c.beta1 = num(settings, "beta1", c.beta1);
    c.beta2 = num(settings, "beta2", c.beta2);
    c.eps = num(settings, "eps", c.eps);
    c.weight_decay = num(settings, "weight_decay", 0.0);
    c.amsgrad = flag(settings, "amsgrad");
    Rcpp::NumericVector m = buffer(buffers, "exp_avg", n, name);
    Rcpp::NumericVector v = buffer(buffers, "exp_avg_sq", n, name);
    svi::optim::AdamState s;
    s.step = st;
    s.lr = lr;
    s.exp_avg = m.begin();
    s.exp_avg_sq = v.begin();
    if (c.amsgrad) {
      Rcpp::NumericVector mx = buffer(buffers, "max_exp_avg_sq", n, name);
      s.max_exp_avg_sq = mx.begin();
      svi::optim::adam_step(value.begin(), gp, n, s, c);
      out_buffers = Rcpp::List::create(Rcpp::Named("exp_avg") = m, Rcpp::Named("exp_avg_sq") = v,
                                       Rcpp::Named("max_exp_avg_sq") = mx);
    } else {
      svi::optim::adam_step(value.begin(), gp, n, s, c);
      out_buffers = Rcpp::List::create(Rcpp::Named("exp_avg") = m, Rcpp::Named("exp_avg_sq") = v);
    }
    st = s.step;
    lr = s.lr;
  } else if (kind == "clipped_adam") {
    svi::optim::ClippedAdamConfig c;
    c.beta1 = num(settings, "beta1", c.beta1);
    c.beta2 = num(settings, "beta2", c.beta2);
    c.eps = num(settings, "eps", c.eps);
    c.weight_decay = num(settings, "weight_decay", 0.0);
    c.clip_norm = num(settings, "clip_norm", c.clip_norm);
    c.lrd = num(settings, "lrd", 1.0);
    Rcpp::NumericVector m = buffer(buffers, "exp_avg", n, name);
    Rcpp::NumericVector v = buffer(buffers, "exp_avg_sq", n, name);
    svi::optim::ClippedAdamState s;
    s.step = st;
    s.lr = lr;
    s.exp_avg = m.begin();
    s.exp_avg_sq = v.begin();
    svi::optim::clipped_adam_step(value.begin(), gp, n, s, c);
    out_buffers = Rcpp::List::create(Rcpp::Named("exp_avg") = m, Rcpp::Named("exp_avg_sq") = v);
    st = s.step;
    lr = s.lr;
  } else if (kind == "sgd") {
    svi::optim::SgdConfig c;
    c.momentum = num(settings, "momentum", 0.0);
    c.dampening = num(settings, "dampening", 0.0);
    c.weight_decay = num(settings, "weight_decay", 0.0);
    c.nesterov = flag(settings, "nesterov");
    svi::optim::SgdState s;
    s.step = st;
    s.lr = lr;
    if (c.momentum != 0.0) {
      Rcpp::NumericVector b = buffer(buffers, "momentum_buffer", n, name);
      s.momentum_buffer = b.begin();
      svi::optim::sgd_step(value.begin(), gp, n, s, c);
      out_buffers = Rcpp::List::create(Rcpp::Named("momentum_buffer") = b);
    } else {
      svi::optim::sgd_step(value.begin(), gp, n, s, c);
      out_buffers = Rcpp::List::create();
    }
    st = s.step;
    lr = s.lr;
  } else {
    fail("unknown optimizer '" + kind + "'");
  }
  return Rcpp::List::create(Rcpp::Named("value") = value, Rcpp::Named("step") = static_cast<double>(st),
                            Rcpp::Named("lr") = lr, Rcpp::Named("buffers") = out_buffers);
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
