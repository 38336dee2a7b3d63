// The R-facing ops on tensor handles: one entry per R generic family, dispatching to the core.
// These are the hot paths: no copies of R data, one node per R-level operation.
#include "glue.h"
#include <cstring>

using namespace glue;

namespace {

GlueTape& tape_of(SEXP a, SEXP b = R_NilValue) {
  if (is_handle(a)) return handle_tape(a);
  if (is_handle(b)) return handle_tape(b);
  fail("internal: an op on tensor handles was called without a handle");
}

[[noreturn]] void no_compare(const char* op) {
  fail(std::string("cannot use `") + op + "` on a tensor handle: while a model, guide or "
       "function is being recorded its values are not known to R code, so comparisons and "
       "`if ()` on them cannot be taped. Branch on data or arguments instead, or use "
       "tensor_value() outside inference");
}

}  // namespace

// Ops group: + - * / ^ and unary minus; comparisons and logic are errors that say why.
// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_ops(const char* op, SEXP e1, SEXP e2) {
  GlueTape& g = tape_of(e1, e2);
  svi::Tape& t = g.tape;
  bool unary = Rf_isNull(e2);
  int a = as_node(g, e1, "the left operand");
  if (unary) {
    if (!std::strcmp(op, "-")) return make_handle(g, svi::neg(t, a));
    if (!std::strcmp(op, "+")) return e1;
    if (!std::strcmp(op, "!")) no_compare(op);
    fail(std::string("unary `") + op + "` is not supported on tensor handles");
  }
  int b = as_node(g, e2, "the right operand");
  int r;
  switch (op[0]) {
    case '+': r = svi::add(t, a, b); break;
    case '-': r = svi::sub(t, a, b); break;
    case '*': r = svi::mul(t, a, b); break;
    case '/': r = svi::div(t, a, b); break;
    case '^': r = svi::pow(t, a, b); break;
    case '<': case '>': case '=': case '!': case '&': case '|': no_compare(op);
    default: fail(std::string("`") + op + "` is not supported on tensor handles (it has no useful gradient)");
  }
  return make_handle(g, r);
}

// Math group and the package's own elementwise functions.
// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_math(const char* fn, SEXP x) {
  GlueTape& g = handle_tape(x);
  svi::Tape& t = g.tape;
  int a = handle_index(x);
  t.check_index(a);
  std::string f(fn);
  int r;
  if (f == "exp") r = svi::exp(t, a);
  else if (f == "log") r = svi::log(t, a);
  else if (f == "sqrt") r = svi::sqrt(t, a);
  else if (f == "abs") r = svi::abs(t, a);
  else if (f == "log1p") r = svi::log1p(t, a);
  else if (f == "expm1") r = svi::expm1(t, a);
  else if (f == "tanh") r = svi::tanh(t, a);
  else if (f == "sin") r = svi::sin(t, a);
  else if (f == "cos") r = svi::cos(t, a);
  else if (f == "lgamma") r = svi::lgamma(t, a);
  else if (f == "digamma") r = svi::digamma(t, a);
  else if (f == "cumsum") r = svi::cumsum(t, a);
  else if (f == "softplus") r = svi::softplus(t, a);
  else if (f == "sigmoid") r = svi::sigmoid(t, a);
  else if (f == "log_sigmoid") r = svi::log_sigmoid(t, a);
  else if (f == "logit") r = svi::logit(t, a);
  else if (f == "square") r = svi::square(t, a);
  else fail("`" + f + "()` is not supported on tensor handles");
  return make_handle(g, r);
}

// kind: "sum", "mean", "logsumexp", "max", "min"; margin 0 all, 1 rows, 2 columns.
// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_reduce(SEXP x, const char* kind, int margin) {
  GlueTape& g = handle_tape(x);
  svi::Tape& t = g.tape;
  int a = handle_index(x);
  std::string k(kind);
  int r;
  if (k == "sum") r = svi::sum(t, a, margin);
  else if (k == "mean") r = svi::mean(t, a, margin);
  else if (k == "logsumexp") r = svi::logsumexp(t, a, margin);
  else if (k == "max") r = svi::max(t, a);
  else if (k == "min") r = svi::min(t, a);
  else fail("`" + k + "()` is not supported on tensor handles");
  return make_handle(g, r);
}

// kind: "matmul" (x %*% y), "crossprod" (t(x) %*% y), "tcrossprod" (x %*% t(y)).
// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_matprod(SEXP x, SEXP y, const char* kind) {
  GlueTape& g = tape_of(x, y);
  svi::Tape& t = g.tape;
  int a = as_node(g, x, "x"), b = as_node(g, y, "y");
  std::string k(kind);
  int r;
  if (k == "matmul") r = svi::matmul(t, a, b);
  else if (k == "crossprod") r = svi::crossprod(t, a, b);
  else r = svi::matmul(t, a, svi::transpose(t, b));
  return make_handle(g, r);
}

// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_t(SEXP x) {
  GlueTape& g = handle_tape(x);
  return make_handle(g, svi::transpose(g.tape, handle_index(x)));
}

// x[i] (mode 0), x[i, ] (1), x[, i] (2); i: 1-based positive indices (numeric or a handle).
// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_gather(SEXP x, SEXP i, int mode) {
  GlueTape& g = tape_of(x, i);
  int a = as_node(g, x, "x");
  int idx = as_node(g, i, "the index");
  return make_handle(g, svi::gather(g.tape, a, idx, mode));
}

// c(...) of handles and numerics.
// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_concat(Rcpp::List parts) {
  GlueTape* g = nullptr;
  for (R_xlen_t k = 0; k < parts.size(); ++k)
    if (is_handle(parts[k])) { g = &handle_tape(parts[k]); break; }
  if (!g) fail("internal: concatenation without a tensor handle");
  std::vector<int> nodes;
  for (R_xlen_t k = 0; k < parts.size(); ++k) {
    SEXP p = parts[k];
    if (Rf_isNull(p) || (!is_handle(p) && Rf_xlength(p) == 0)) continue;
    std::string what = "element " + std::to_string(k + 1) + " of c()";
    nodes.push_back(as_node(*g, p, what.c_str()));
  }
  return make_handle(*g, svi::concat(g->tape, nodes));
}

// dim(x) <- dim (NULL drops the dim attribute).
// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_reshape(SEXP x, SEXP dim) {
  GlueTape& g = handle_tape(x);
  int a = handle_index(x);
  g.tape.check_index(a);
  svi::Shape s = svi::Shape::vec(g.tape.shape(a).n);
  if (!Rf_isNull(dim)) {
    Rcpp::IntegerVector d(dim);
    if (d.size() > svi::kMaxDims) fail("arrays with more than 8 dimensions are not supported");
    s.nd = int(d.size());
    Eigen::Index n = 1;
    for (int k = 0; k < s.nd; ++k) {
      if (d[k] == NA_INTEGER || d[k] < 0) fail("dims must be non-negative integers");
      s.d[k] = d[k]; n *= d[k];
    }
    if (n != s.n)
      fail("dims [product " + std::to_string(n) + "] do not match the length of the tensor [" +
           std::to_string(s.n) + "]");
  }
  return make_handle(g, svi::reshape(g.tape, a, s));
}
