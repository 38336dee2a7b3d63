// Elementwise functions of one array. Each op is a pair: the value, and the derivative written
// in terms of the input x and (where cheaper) the output y.
#pragma once
#include <cmath>
#include "../special.hpp"
#include "../tape.hpp"

namespace svi {
namespace detail {

template <class U>
void unary_f(Tape& t, Node& o) { o.own = U::f(t.val(o.in[0])); }
template <class U>
void unary_b(Tape& t, Node& o) { t.acc(o.in[0], o.grad * U::df(t.val(o.in[0]), o.own)); }
template <class U>
const OpDef* unary_def() {
  static const OpDef d{U::name, unary_f<U>, unary_b<U>};
  return &d;
}
template <class U>
int unary(Tape& t, int a) {
  t.check_index(a);
  return t.op(unary_def<U>(), {a}, t.shape(a));
}

#define SVI_UNARY(TYPE, NAME, FWD, DER)                                  \
  struct TYPE {                                                         \
    static constexpr const char* name = NAME;                           \
    static auto f(const CMap& x) { return FWD; }                        \
    static auto df(const CMap& x, const Vec& y) { (void)y; return DER; } \
  };

SVI_UNARY(Exp, "exp", x.exp(), y)
SVI_UNARY(Log, "log", x.log(), 1 / x)
SVI_UNARY(Sqrt, "sqrt", x.sqrt(), 0.5 / y)
SVI_UNARY(Abs, "abs", x.abs(), x.sign())
SVI_UNARY(Log1p, "log1p", x.log1p(), 1 / (1 + x))
SVI_UNARY(Expm1, "expm1", x.unaryExpr([](double v) { return std::expm1(v); }), y + 1)
SVI_UNARY(Tanh, "tanh", x.tanh(), 1 - y.square())
SVI_UNARY(Sin, "sin", x.sin(), x.cos())
SVI_UNARY(Cos, "cos", x.cos(), -x.sin())
SVI_UNARY(Square, "square", x.square(), 2 * x)
SVI_UNARY(Softplus, "softplus", x.unaryExpr(&special::softplus), x.unaryExpr(&special::sigmoid))
SVI_UNARY(Sigmoid, "sigmoid", x.unaryExpr(&special::sigmoid), y * (1 - y))
SVI_UNARY(LogSigmoid, "log_sigmoid", x.unaryExpr(&special::log_sigmoid),
          x.unaryExpr([](double v) { return special::sigmoid(-v); }))
SVI_UNARY(Logit, "logit", x.unaryExpr(&special::logit), 1 / (x * (1 - x)))
SVI_UNARY(Lgamma, "lgamma", x.unaryExpr([](double v) { return std::lgamma(v); }),
          x.unaryExpr(&special::digamma))
SVI_UNARY(Digamma, "digamma", x.unaryExpr(&special::digamma), x.unaryExpr(&special::trigamma))
#undef SVI_UNARY

}  // namespace detail

inline int exp(Tape& t, int a) { return detail::unary<detail::Exp>(t, a); }
inline int log(Tape& t, int a) { return detail::unary<detail::Log>(t, a); }
inline int sqrt(Tape& t, int a) { return detail::unary<detail::Sqrt>(t, a); }
inline int abs(Tape& t, int a) { return detail::unary<detail::Abs>(t, a); }
inline int log1p(Tape& t, int a) { return detail::unary<detail::Log1p>(t, a); }
inline int expm1(Tape& t, int a) { return detail::unary<detail::Expm1>(t, a); }
inline int tanh(Tape& t, int a) { return detail::unary<detail::Tanh>(t, a); }
inline int sin(Tape& t, int a) { return detail::unary<detail::Sin>(t, a); }
inline int cos(Tape& t, int a) { return detail::unary<detail::Cos>(t, a); }
inline int square(Tape& t, int a) { return detail::unary<detail::Square>(t, a); }
inline int softplus(Tape& t, int a) { return detail::unary<detail::Softplus>(t, a); }
inline int sigmoid(Tape& t, int a) { return detail::unary<detail::Sigmoid>(t, a); }
inline int log_sigmoid(Tape& t, int a) { return detail::unary<detail::LogSigmoid>(t, a); }
inline int logit(Tape& t, int a) { return detail::unary<detail::Logit>(t, a); }
inline int lgamma(Tape& t, int a) { return detail::unary<detail::Lgamma>(t, a); }
inline int digamma(Tape& t, int a) { return detail::unary<detail::Digamma>(t, a); }

}  // namespace svi
