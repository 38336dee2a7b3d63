// Elementwise arithmetic: + - * / ^ and unary minus, broadcasting scalars (see shape.hpp).
#pragma once
#include <cmath>
#include "../tape.hpp"

namespace svi {
namespace detail {

// Calls f with the two inputs' values, passing a broadcast scalar as a plain double.
template <class F>
void with2(const Tape& t, const Node& o, F f) {
  CMap A = t.val(o.in[0]), B = t.val(o.in[1]);
  if (A.size() == B.size()) f(A, B);
  else if (A.size() == 1) f(A[0], B);
  else f(A, B[0]);
}

inline void add_f(Tape& t, Node& o) { with2(t, o, [&](const auto& a, const auto& b) { o.own = a + b; }); }
inline void add_b(Tape& t, Node& o) { t.acc(o.in[0], o.grad); t.acc(o.in[1], o.grad); }
inline void sub_f(Tape& t, Node& o) { with2(t, o, [&](const auto& a, const auto& b) { o.own = a - b; }); }
inline void sub_b(Tape& t, Node& o) { t.acc(o.in[0], o.grad); t.acc(o.in[1], -o.grad); }
inline void mul_f(Tape& t, Node& o) { with2(t, o, [&](const auto& a, const auto& b) { o.own = a * b; }); }
inline void mul_b(Tape& t, Node& o) {
  with2(t, o, [&](const auto& a, const auto& b) {
    t.acc(o.in[0], o.grad * b);
    t.acc(o.in[1], o.grad * a);
  });
}
inline void div_f(Tape& t, Node& o) { with2(t, o, [&](const auto& a, const auto& b) { o.own = a / b; }); }
inline void div_b(Tape& t, Node& o) {
  with2(t, o, [&](const auto&, const auto& b) {
    t.acc(o.in[0], o.grad / b);
    t.acc(o.in[1], -o.grad * o.own / b);
  });
}
inline double ln(double x) { return std::log(x); }
template <class D>
auto ln(const Eigen::ArrayBase<D>& x) { return x.log(); }
inline void pow_f(Tape& t, Node& o) {
  CMap A = t.val(o.in[0]), B = t.val(o.in[1]);
  if (B.size() == 1 && B[0] == 2) { o.own = A.square(); return; }
  if (A.size() == B.size()) o.own = A.binaryExpr(B, [](double a, double b) { return std::pow(a, b); });
  else if (A.size() == 1) { double a = A[0]; o.own = B.unaryExpr([a](double b) { return std::pow(a, b); }); }
  else { double b = B[0]; o.own = A.unaryExpr([b](double a) { return std::pow(a, b); }); }
}
inline void pow_b(Tape& t, Node& o) {
  // d/da a^b = b a^(b-1); d/db a^b = a^b log(a). Each is evaluated only when that input needs it.
  with2(t, o, [&](const auto& a, const auto& b) {
    if (t.node(o.in[0]).needs_grad) {
      Vec d = (b * o.own) / a;
      // a == 0: b a^(b-1) directly (the ratio form is 0/0 there)
      CMap A = t.val(o.in[0]), B = t.val(o.in[1]);
      for (Eigen::Index i = 0; i < d.size(); ++i) {
        double ai = A.size() == 1 ? A[0] : A[i];
        if (ai == 0) {
          double bi = B.size() == 1 ? B[0] : B[i];
          d[i] = bi == 1 ? 1.0 : (bi > 1 ? 0.0 : bi * std::pow(ai, bi - 1));
        }
      }
      t.acc(o.in[0], o.grad * d);
    }
    if (t.node(o.in[1]).needs_grad) {
      // a^b log(a); where a == 0 and a^b == 0 (b > 0) the power is flat in b: 0, not 0 * -Inf
      Vec d = o.own * ln(a);
      for (Eigen::Index i = 0; i < d.size(); ++i)
        if (o.own[i] == 0 && std::isnan(d[i])) d[i] = 0.0;
      t.acc(o.in[1], o.grad * d);
    }
  });
}
inline void neg_f(Tape& t, Node& o) { o.own = -t.val(o.in[0]); }
inline void neg_b(Tape& t, Node& o) { t.acc(o.in[0], -o.grad); }

inline const OpDef kAdd{"+", add_f, add_b};
inline const OpDef kSub{"-", sub_f, sub_b};
inline const OpDef kMul{"*", mul_f, mul_b};
inline const OpDef kDiv{"/", div_f, div_b};
inline const OpDef kPow{"^", pow_f, pow_b};
inline const OpDef kNeg{"unary -", neg_f, neg_b};

inline int binary(Tape& t, const OpDef& d, int a, int b) {
  t.check_index(a); t.check_index(b);
  return t.op(&d, {a, b}, broadcast_shape(t.shape(a), t.shape(b), d.name));
}

}  // namespace detail

inline int add(Tape& t, int a, int b) { return detail::binary(t, detail::kAdd, a, b); }
inline int sub(Tape& t, int a, int b) { return detail::binary(t, detail::kSub, a, b); }
inline int mul(Tape& t, int a, int b) { return detail::binary(t, detail::kMul, a, b); }
inline int div(Tape& t, int a, int b) { return detail::binary(t, detail::kDiv, a, b); }
inline int pow(Tape& t, int a, int b) { return detail::binary(t, detail::kPow, a, b); }
inline int neg(Tape& t, int a) { t.check_index(a); return t.op(&detail::kNeg, {a}, t.shape(a)); }

}  // namespace svi
