// Elementwise arithmetic: + - * / ^ and unary minus, broadcasting as shape.hpp does.
#pragma once
#include <cmath>
#include "../tape.hpp"

namespace svi {
namespace detail {

// Calls f with the two inputs' values, passing a broadcast scalar as a plain double. An input
// that broadcasts along dims of 1 is expanded to the output's shape first (equal and scalar
// shapes, the common case, take no index arithmetic).
template <class F>
void with2(const Tape& t, const Node& o, F f) {
  CMap A = t.val(o.in[0]), B = t.val(o.in[1]);
  if (A.size() == B.size()) f(A, B);
  else if (A.size() == 1) f(A[0], B);
  else if (B.size() == 1) f(A, B[0]);
  else {
    const Shape &sa = t.shape(o.in[0]), &sb = t.shape(o.in[1]);
    Vec Ae, Be;
    if (needs_expand(sa, o.shape)) Ae = expand_to(A.data(), sa, o.shape);
    if (needs_expand(sb, o.shape)) Be = expand_to(B.data(), sb, o.shape);
    f(Ae.size() ? CMap(Ae.data(), Ae.size()) : A, Be.size() ? CMap(Be.data(), Be.size()) : B);
  }
}
inline double at(double x, Eigen::Index) { return x; }
inline double at(const CMap& x, Eigen::Index i) { return x[i]; }

inline void add_f(Tape& t, Node& o) { with2(t, o, [&](const auto& a, const auto& b) { o.own = a + b; }); }
inline void add_b(Tape& t, Node& o) { t.acc(o.in[0], o.grad, o.shape); t.acc(o.in[1], o.grad, o.shape); }
inline void sub_f(Tape& t, Node& o) { with2(t, o, [&](const auto& a, const auto& b) { o.own = a - b; }); }
inline void sub_b(Tape& t, Node& o) { t.acc(o.in[0], o.grad, o.shape); t.acc(o.in[1], -o.grad, o.shape); }
inline void mul_f(Tape& t, Node& o) { with2(t, o, [&](const auto& a, const auto& b) { o.own = a * b; }); }
inline void mul_b(Tape& t, Node& o) {
  with2(t, o, [&](const auto& a, const auto& b) {
    t.acc(o.in[0], o.grad * b, o.shape);
    t.acc(o.in[1], o.grad * a, o.shape);
  });
}
inline void div_f(Tape& t, Node& o) { with2(t, o, [&](const auto& a, const auto& b) { o.own = a / b; }); }
inline void div_b(Tape& t, Node& o) {
  with2(t, o, [&](const auto&, const auto& b) {
    t.acc(o.in[0], o.grad / b, o.shape);
    t.acc(o.in[1], -o.grad * o.own / b, o.shape);
  });
}
inline double ln(double x) { return std::log(x); }
template <class D>
auto ln(const Eigen::ArrayBase<D>& x) { return x.log(); }
inline void pow_f(Tape& t, Node& o) {
  CMap B = t.val(o.in[1]);
  if (B.size() == 1 && B[0] == 2) { o.own = t.val(o.in[0]).square(); return; }
  with2(t, o, [&](const auto& a, const auto& b) {
    o.own.resize(o.shape.n);
    for (Eigen::Index i = 0; i < o.shape.n; ++i) o.own[i] = std::pow(at(a, i), at(b, i));
  });
}
inline void pow_b(Tape& t, Node& o) {
  // d/da a^b = b a^(b-1); d/db a^b = a^b log(a). Each is evaluated only when that input needs it.
  with2(t, o, [&](const auto& a, const auto& b) {
    if (t.node(o.in[0]).needs_grad) {
      Vec d = (b * o.own) / a;
      // a == 0: b a^(b-1) directly (the ratio form is 0/0 there)
      for (Eigen::Index i = 0; i < d.size(); ++i) {
        double ai = at(a, i);
        if (ai == 0) {
          double bi = at(b, i);
          d[i] = bi == 1 ? 1.0 : (bi > 1 ? 0.0 : bi * std::pow(ai, bi - 1));
        }
      }
      t.acc(o.in[0], o.grad * d, o.shape);
    }
    if (t.node(o.in[1]).needs_grad) {
      // a^b log(a); where a == 0 and a^b == 0 (b > 0) the power is flat in b: 0, not 0 * -Inf
      Vec d = o.own * ln(a);
      for (Eigen::Index i = 0; i < d.size(); ++i)
        if (o.own[i] == 0 && std::isnan(d[i])) d[i] = 0.0;
      t.acc(o.in[1], o.grad * d, o.shape);
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
