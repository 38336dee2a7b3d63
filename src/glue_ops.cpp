// The R-facing ops on tensor handles: one entry per R generic family, dispatching to the core.
// These are the hot paths: no copies of R data, one node per R-level operation. The same core
// functions also serve plain numerics (softplus() & co. outside a tape), so taped and untaped
// values agree to the last bit.
#include "glue.h"
#include <svi/ops/arith.hpp>
#include <svi/ops/math.hpp>
#include <svi/ops/reduce.hpp>
#include <svi/ops/linalg.hpp>
#include <svi/ops/index.hpp>
#include <svi/ops/mask.hpp>
#include <svi/ops/plate.hpp>
#include <svi/special.hpp>
#include <cmath>
#include <cstring>
#include <limits>

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

// Integral doubles print without a fractional part in messages.
std::string num(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  return std::to_string(v);
}

// A scalar constant (x + 1, 2 * x) is copied into its node: cheaper than keeping the R value
// alive for the tape, which is what as_node() does for longer data.
int operand(GlueTape& g, SEXP x, const char* what) {
  if (TYPEOF(x) == REALSXP && XLENGTH(x) == 1 && ATTRIB(x) == R_NilValue) {
    double v = REAL(x)[0];
    if (std::isnan(v))
      fail(std::string(what) + " contains NA or NaN (at position 1); svi does not propagate "
           "missing values through the tape");
    return g.tape.scalar(v);
  }
  return as_node(g, x, what);
}

}  // namespace

// Ops group: + - * / ^ and unary minus; comparisons and logic are errors that say why.
// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_ops(const char* op, SEXP e1, SEXP e2) {
  GlueTape& g = tape_of(e1, e2);
  svi::Tape& t = g.tape;
  bool unary = Rf_isNull(e2);
  if (unary) {
    int a = as_node(g, e1, "the operand");
    if (!std::strcmp(op, "-")) return make_handle(g, svi::neg(t, a));
    if (!std::strcmp(op, "+")) return e1;
    if (!std::strcmp(op, "!")) no_compare(op);
    fail(std::string("unary `") + op + "` is not supported on tensor handles");
  }
  switch (op[0]) {  // refuse before touching the operands, so the message is about the op
    case '<': case '>': case '=': case '!': case '&': case '|': no_compare(op);
    default: break;
  }
  int a = operand(g, e1, "the left operand");
  int b = operand(g, e2, "the right operand");
  int r;
  switch (op[0]) {
    case '+': r = svi::add(t, a, b); break;
    case '-': r = svi::sub(t, a, b); break;
    case '*': r = svi::mul(t, a, b); break;
    case '/': r = svi::div(t, a, b); break;
    case '^': r = svi::pow(t, a, b); break;
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
  SEXP h = PROTECT(make_handle(g, r));
  if (f == "log" || f == "sqrt" || f == "log1p" || f == "lgamma" || f == "digamma" || f == "logit") {
    // outside its domain the function gives NaN: tell R (tensor_math() warns, as base R does)
    // where the first one is
    const double* in = t.node(a).data();
    const double* out = t.node(r).data();
    for (Eigen::Index i = 0; i < t.shape(r).n; ++i) {
      if (std::isnan(out[i]) && !std::isnan(in[i])) {
        Rf_setAttrib(h, Rf_install("svi_nan"), Rf_ScalarReal(double(i + 1)));
        break;
      }
    }
  }
  UNPROTECT(1);
  return h;
}

// softplus() & co. on plain numerics: the core's scalar functions, attributes kept; NA and
// NaN propagate as in base R (nothing is taped here).
// [[Rcpp::export(rng = false)]]
SEXP cpp_special_numeric(const char* fn, SEXP x) {
  double (*f)(double);
  if (!std::strcmp(fn, "softplus")) f = &svi::special::softplus;
  else if (!std::strcmp(fn, "sigmoid")) f = &svi::special::sigmoid;
  else if (!std::strcmp(fn, "log_sigmoid")) f = &svi::special::log_sigmoid;
  else if (!std::strcmp(fn, "logit")) f = &svi::special::logit;
  else fail(std::string("internal: unknown function ") + fn);
  SEXP xd = PROTECT(Rf_coerceVector(x, REALSXP));
  R_xlen_t n = Rf_xlength(xd);
  SEXP out = PROTECT(Rf_allocVector(REALSXP, n));
  const double* v = REAL(xd);
  double* o = REAL(out);
  for (R_xlen_t i = 0; i < n; ++i) o[i] = std::isnan(v[i]) ? v[i] : f(v[i]);
  DUPLICATE_ATTRIB(out, x);
  UNPROTECT(2);
  return out;
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

// logsumexp() on plain numerics (margin as above), with the core's stable formula. A slice
// holding NA or NaN gives NA or NaN, as sum() would.
// [[Rcpp::export(rng = false)]]
SEXP cpp_logsumexp_numeric(SEXP x, int margin) {
  SEXP xd = PROTECT(Rf_coerceVector(x, REALSXP));
  svi::Shape s = shape_of(x);
  if (margin != 0 && s.nd < 2)
    fail("logsumexp by rows or columns needs a matrix or array, got " + s.str());
  Eigen::Index rows = margin == 0 ? s.n : s.rows(), cols = margin == 0 ? 1 : s.cols();
  Eigen::Map<const Eigen::MatrixXd> X(REAL(xd), rows, cols);
  auto one = [](const Eigen::Ref<const Eigen::VectorXd>& v) {
    if (v.hasNaN()) return v.sum();  // NA or NaN, as sum() gives
    return svi::detail::lse(v);
  };
  SEXP out;
  if (margin == 0) {
    out = PROTECT(Rf_ScalarReal(one(Eigen::Map<const Eigen::VectorXd>(REAL(xd), s.n))));
  } else if (margin == 1) {
    out = PROTECT(Rf_allocVector(REALSXP, rows));
    for (Eigen::Index r = 0; r < rows; ++r) REAL(out)[r] = one(X.row(r).transpose());
  } else {
    out = PROTECT(Rf_allocVector(REALSXP, cols));
    for (Eigen::Index c = 0; c < cols; ++c) REAL(out)[c] = one(X.col(c));
    if (s.nd > 2) {  // colSums()-like: the remaining dims
      SEXP dim = PROTECT(Rf_allocVector(INTSXP, s.nd - 1));
      for (int i = 1; i < s.nd; ++i) INTEGER(dim)[i - 1] = s.d[i];
      Rf_setAttrib(out, R_DimSymbol, dim);
      UNPROTECT(1);
    }
  }
  UNPROTECT(2);
  return out;
}

// kind: 0 x %*% y, 1 crossprod (t(x) %*% y), 2 tcrossprod (x %*% t(y)); vectors are columns
// for the last two, as in base R.
// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_matprod(SEXP x, SEXP y, int kind) {
  GlueTape& g = tape_of(x, y);
  svi::Tape& t = g.tape;
  int a = as_node(g, x, "x");
  int b = (y == x) ? a : as_node(g, y, "y");
  int r;
  if (kind == 0) {
    r = svi::matmul(t, a, b);
  } else if (kind == 1) {
    r = svi::crossprod(t, a, b);
  } else {
    auto column = [&](int i) {
      svi::Shape s = t.shape(i);
      return s.nd == 0 ? svi::reshape(t, i, svi::Shape::mat(int(s.n), 1)) : i;
    };
    int ca = column(a);
    int cb = b == a ? ca : column(b);
    const svi::Shape &sa = t.shape(ca), &sb = t.shape(cb);
    if (sa.nd != 2 || sb.nd != 2 || sa.d[1] != sb.d[1])
      fail("non-conformable arguments in `tcrossprod`: " + sa.str() + " and " + sb.str());
    r = svi::matmul(t, ca, svi::transpose(t, cb));
  }
  return make_handle(g, r);
}

// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_t(SEXP x) {
  GlueTape& g = handle_tape(x);
  return make_handle(g, svi::transpose(g.tape, handle_index(x)));
}

namespace {

// One dimension's index in any of R's forms (positive, negative, zero, logical, or a handle
// holding positions) -> a node of 1-based positions. `n` is the extent; `label` names the
// index ("row index") and `has` the extent ("the matrix has 2 rows") in messages.
int index_node(GlueTape& g, SEXP i, Eigen::Index n, const std::string& label, const std::string& has) {
  if (is_handle(i)) return as_node(g, i, "the index");
  int type = TYPEOF(i);
  R_xlen_t k = Rf_xlength(i);
  std::vector<double> pos;
  if (type == LGLSXP) {
    const int* v = LOGICAL(i);
    if (k != n)
      fail("a logical " + label + " must have length " + std::to_string(n) + " (" + has +
           "), not " + std::to_string(k) + "; svi does not recycle indices");
    for (R_xlen_t q = 0; q < k; ++q) {
      if (v[q] == NA_LOGICAL) fail("indices must not contain NA (at position " + std::to_string(q + 1) + ")");
      if (v[q]) pos.push_back(double(q + 1));
    }
    return g.tape.leaf(svi::Leaf::Constant, pos.data(), svi::Shape::vec(Eigen::Index(pos.size())));
  }
  if (type != REALSXP && type != INTSXP)
    fail(std::string("indices must be numeric, logical or a tensor handle, not ") + Rf_type2char(type));
  // Fast path: positive in-range whole numbers are used as they are (doubles without a copy).
  bool plain = true, any_neg = false, any_pos = false;
  for (R_xlen_t q = 0; q < k; ++q) {
    double v;
    if (type == REALSXP) {
      v = REAL(i)[q];
      if (std::isnan(v)) fail("indices must not contain NA or NaN (at position " + std::to_string(q + 1) + ")");
    } else {
      if (INTEGER(i)[q] == NA_INTEGER) fail("indices must not contain NA (at position " + std::to_string(q + 1) + ")");
      v = INTEGER(i)[q];
    }
    if (v >= 1) {
      any_pos = true;
      if (std::floor(v) >= double(n) + 1)
        fail(label + " " + num(std::floor(v)) + " is out of range: " + has);
      if (v != std::floor(v)) plain = false;
    } else {
      plain = false;
      if (v <= -1) any_neg = true;
    }
  }
  if (any_pos && any_neg) fail("cannot mix positive and negative indices");
  if (plain && type == REALSXP) {
    g.hold(i);
    return g.tape.constant_ref(REAL(i), svi::Shape::vec(k));
  }
  if (any_neg) {  // exclusion: the positions not named
    std::vector<char> drop(n, 0);
    for (R_xlen_t q = 0; q < k; ++q) {
      double v = type == REALSXP ? std::trunc(REAL(i)[q]) : INTEGER(i)[q];
      if (v <= -1 && -v <= double(n)) drop[Eigen::Index(-v) - 1] = 1;
    }
    for (Eigen::Index q = 0; q < n; ++q) if (!drop[q]) pos.push_back(double(q + 1));
  } else {  // R truncates fractions and drops zeros
    for (R_xlen_t q = 0; q < k; ++q) {
      double v = type == REALSXP ? std::trunc(REAL(i)[q]) : INTEGER(i)[q];
      if (v >= 1) pos.push_back(v);
    }
  }
  return g.tape.leaf(svi::Leaf::Constant, pos.data(), svi::Shape::vec(Eigen::Index(pos.size())));
}

}  // namespace

// x[i] (mode 0), x[i, ] (1), x[, i] (2) with any of R's index forms.
// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_gather(SEXP x, SEXP i, int mode) {
  GlueTape& g = tape_of(x, i);
  int a = as_node(g, x, "x");
  const svi::Shape s = g.tape.shape(a);
  if (mode != 0 && s.nd != 2)
    fail("x[i, j] needs a matrix; this tensor has " + s.str() + " (use x[i] for a vector)");
  Eigen::Index n = mode == 0 ? s.n : mode == 1 ? s.d[0] : s.d[1];
  std::string count = std::to_string(n);
  int idx = mode == 0 ? index_node(g, i, n, "index", "the tensor has " + count + " element" + (n == 1 ? "" : "s"))
          : mode == 1 ? index_node(g, i, n, "row index", "the matrix has " + count + " row" + (n == 1 ? "" : "s"))
                      : index_node(g, i, n, "column index", "the matrix has " + count + " column" + (n == 1 ? "" : "s"));
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
    if (TYPEOF(dim) != INTSXP && TYPEOF(dim) != REALSXP)
      fail("dims must be a numeric vector, not " + std::string(Rf_type2char(TYPEOF(dim))));
    Rcpp::IntegerVector d(dim);
    if (d.size() == 0) fail("dims must not be empty (use NULL to drop them)");
    if (d.size() > svi::kMaxDims) fail("arrays with more than 8 dimensions are not supported");
    s.nd = int(d.size());
    Eigen::Index n = 1;
    for (int k = 0; k < s.nd; ++k) {
      if (d[k] == NA_INTEGER || d[k] < 0) fail("dims must be non-negative whole numbers, not NA");
      s.d[k] = d[k]; n *= d[k];
    }
    if (n != s.n)
      fail("dims [product " + std::to_string(n) + "] do not match the length of the tensor [" +
           std::to_string(s.n) + "]");
  }
  return make_handle(g, svi::reshape(g.tape, a, s));
}
