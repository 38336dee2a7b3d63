// Ops for per-plate bookkeeping of the ELBO:
//  * detach(x): the value of x with no gradient path (score-function weights, baselines).
//  * plate_sum(x, ...): a cost term that lives on some plates, summed over the plates the
//    target lacks and broadcast over the target plates it lacks (pyro-semantics 3.3 sum_to).
// Both are forward-only: their results never need a gradient.
#pragma once
#include <vector>
#include "../subsample.hpp"
#include "../tape.hpp"

namespace svi {
namespace detail {

inline void detach_f(Tape& t, Node& o) { o.own = t.val(o.in[0]); }
inline void no_grad_b(Tape&, Node&) {}

// aux layout: [ns, src dims (ns), nt, tgt dims (nt), for each src dim: its target dim or -1]
inline void plate_sum_f(Tape& t, Node& o) {
  CMap X = t.val(o.in[0]);
  const double* a = o.aux.data();
  int ns = int(a[0]);
  const double* sd = a + 1;
  int nt = int(a[1 + ns]);
  const double* td = a + 2 + ns;
  const double* map = a + 2 + ns + nt;
  std::vector<Eigen::Index> tstride(nt);
  Eigen::Index st = 1;
  for (int k = 0; k < nt; ++k) { tstride[k] = st; st *= Eigen::Index(td[k]); }
  // 1. reduce: the source summed onto the kept dims, laid out on the target's strides
  Vec r = Vec::Zero(o.shape.n);
  std::vector<int> idx(ns, 0);
  for (Eigen::Index s = 0; s < X.size(); ++s) {
    Eigen::Index off = 0;
    for (int k = 0; k < ns; ++k)
      if (map[k] >= 0) off += idx[k] * tstride[int(map[k])];
    r[off] += X[s];
    for (int k = 0; k < ns; ++k) {  // next source multi-index (column-major)
      if (++idx[k] < int(sd[k])) break;
      idx[k] = 0;
    }
  }
  // 2. broadcast over target dims the source does not have
  std::vector<bool> has(nt, false);
  for (int k = 0; k < ns; ++k) if (map[k] >= 0) has[int(map[k])] = true;
  o.own.resize(o.shape.n);
  std::vector<int> ti(nt, 0);
  for (Eigen::Index q = 0; q < o.shape.n; ++q) {
    Eigen::Index off = 0;
    for (int k = 0; k < nt; ++k) if (has[k]) off += ti[k] * tstride[k];
    o.own[q] = r[off];
    for (int k = 0; k < nt; ++k) {
      if (++ti[k] < int(td[k])) break;
      ti[k] = 0;
    }
  }
}

// A minibatch of the plate's indices, drawn afresh on every forward pass (record and replay).
inline void subsample_f(Tape& t, Node& o) {
  o.own.resize(o.shape.n);
  subsample_indices(t.random(), static_cast<long long>(o.a0), o.shape.n, o.own.data());
}

inline const OpDef kDetach{"detach", detach_f, no_grad_b};
inline const OpDef kSubsample{"subsample", subsample_f, no_grad_b};
inline const OpDef kPlateSum{"plate_sum", plate_sum_f, no_grad_b};

}  // namespace detail

inline int detach(Tape& t, int x) {
  t.check_index(x);
  int r = t.op(&detail::kDetach, {x}, t.shape(x));
  t.node(r).needs_grad = false;
  return r;
}

// k indices out of 1..n (as sample.int(n, k)), redrawn each time the tape runs forward.
inline int subsample(Tape& t, double n, Eigen::Index k) {
  if (k < 1 || double(k) > n) throw Error("subsample size must be between 1 and the plate size");
  return t.op(&detail::kSubsample, {}, Shape::vec(k), n);
}

// src_dims: the term's plate sizes; tgt_dims: the target's; map[k]: the target dim of source
// dim k, or -1 to sum it out. The result has the target's shape (a length-1 vector for none).
inline int plate_sum(Tape& t, int x, const std::vector<int>& src_dims,
                     const std::vector<int>& tgt_dims, const std::vector<int>& map) {
  t.check_index(x);
  Eigen::Index ns = 1, nt = 1;
  for (int d : src_dims) ns *= d;
  for (int d : tgt_dims) nt *= d;
  if (ns != t.shape(x).n) throw Error("plate_sum: the term's plate sizes do not match its length");
  if (map.size() != src_dims.size()) throw Error("plate_sum: one target dim per source dim");
  for (std::size_t k = 0; k < map.size(); ++k)
    if (map[k] >= int(tgt_dims.size()) || (map[k] >= 0 && tgt_dims[map[k]] != src_dims[k]))
      throw Error("plate_sum: a shared plate has different sizes in the term and the target");
  Shape s = Shape::vec(nt);
  if (tgt_dims.size() > 1) {
    s.nd = int(tgt_dims.size());
    for (int k = 0; k < s.nd; ++k) s.d[k] = tgt_dims[k];
  }
  Vec aux(2 + src_dims.size() + tgt_dims.size() + map.size());
  int p = 0;
  aux[p++] = double(src_dims.size());
  for (int d : src_dims) aux[p++] = d;
  aux[p++] = double(tgt_dims.size());
  for (int d : tgt_dims) aux[p++] = d;
  for (int m : map) aux[p++] = m;
  // aux must be in place before the forward runs, so record by hand as Tape::op would
  Node& n = t.alloc();
  int idx = t.size() - 1;
  n.op = &detail::kPlateSum; n.shape = s; n.in[0] = x; n.nin = 1; n.aux = aux;
  n.needs_grad = false;
  detail::plate_sum_f(t, t.node(idx));
  return idx;
}

}  // namespace svi
