// The parameter store: name -> unconstrained array + the constraint it was created with
// (pyro-semantics 6). An entry's array is either owned by the store or caller-owned memory
// (pointer + length, e.g. an R numeric vector the glue maps in place), so the store can be
// plain data of its host and no step copies it. Entries keep their order of creation.
// Also holds the decaying-average baselines (TraceGraph_ELBO), outside the optimizer.
#pragma once
#include <cmath>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>
#include "error.hpp"
#include "shape.hpp"
#include "tape.hpp"
#include "transforms.hpp"

namespace svi {

// A constraint as the store needs it: a transform kind and its bounds.
struct Constraint {
  int kind = transform::Real;
  double a = 0, b = 0;
  static Constraint real() { return {}; }
  static Constraint positive() { return {transform::Positive, 0, 0}; }
  static Constraint unit_interval() { return {transform::UnitInterval, 0, 0}; }
  static Constraint interval(double lo, double hi) { return {transform::Interval, lo, hi}; }
  static Constraint greater_than(double lo) { return {transform::GreaterThan, lo, 0}; }
};

struct ParamEntry {
  std::string name;
  Constraint constraint;
  Shape shape;        // of the unconstrained array
  double* data;       // the unconstrained values (owned or not)
  std::unique_ptr<double[]> owned;  // set when the store owns them
  // the running step's constrained node of this parameter (valid while `stamp` is that step's)
  long long stamp = -1;
  int handle = -1;
};

struct ParamStore {
  std::vector<std::unique_ptr<ParamEntry>> entries;  // stable addresses
  std::unordered_map<std::string, int> index;
  std::unordered_map<std::string, Vec> averages;      // decaying-average baselines

  int size() const { return int(entries.size()); }
  int find(const std::string& name) const {
    auto it = index.find(name);
    return it == index.end() ? -1 : it->second;
  }
  ParamEntry& at(int i) { return *entries[i]; }
  const ParamEntry& at(int i) const { return *entries[i]; }

  // An entry whose unconstrained values live in caller-owned memory `data` (length shape.n).
  int adopt(const std::string& name, double* data, Shape shape, Constraint c) {
    if (find(name) >= 0) throw Error("Parameter \"" + name + "\" is already in the store.");
    auto e = std::make_unique<ParamEntry>();
    e->name = name; e->constraint = c; e->shape = shape; e->data = data;
    entries.push_back(std::move(e));
    index.emplace(name, size() - 1);
    return size() - 1;
  }

  // A new entry from an initial value in constrained space (the store owns its array).
  int create(const std::string& name, const double* init, Shape shape, Constraint c) {
    if (shape.n == 0) throw Error("`init` of param \"" + name + "\" is empty.");
    for (Eigen::Index i = 0; i < shape.n; ++i)
      if (std::isnan(init[i])) throw Error("`init` of param \"" + name + "\" contains NA or NaN.");
    Tape scratch;  // the inverse transform is a tape op; a private tape keeps the step's clean
    int x = scratch.leaf(Leaf::Constant, init, shape);
    int u = c.kind == transform::Real ? x : transform::apply(scratch, c.kind, 1, x, c.a, c.b);
    const Node& un = scratch.node(u);
    for (Eigen::Index i = 0; i < un.shape.n; ++i)
      if (!std::isfinite(un.data()[i]))
        throw Error("`init` of param \"" + name + "\" is outside the support of its constraint (" +
                    transform::kind_name(c.kind) + "). Give an initial value strictly inside it.");
    std::unique_ptr<double[]> buf(new double[std::size_t(un.shape.n)]);
    for (Eigen::Index i = 0; i < un.shape.n; ++i) buf[i] = un.data()[i];
    int k = adopt(name, buf.get(), un.shape, c);
    entries[k]->owned = std::move(buf);
    return k;
  }

  // Drops the entries made after the first n (a failed step's new parameters).
  void truncate(int n) {
    while (size() > n) {
      index.erase(entries.back()->name);
      entries.pop_back();
    }
  }

  // The constrained value of entry i, as a plain array.
  Vec constrained(int i) const {
    const ParamEntry& e = at(i);
    Tape scratch;
    int x = scratch.leaf(Leaf::Constant, e.data, e.shape);
    int y = e.constraint.kind == transform::Real ? x
            : transform::apply(scratch, e.constraint.kind, 0, x, e.constraint.a, e.constraint.b);
    return scratch.val(y);
  }
  Vec constrained(const std::string& name) const {
    int i = find(name);
    if (i < 0) throw Error("No parameter \"" + name + "\" in the store.");
    return constrained(i);
  }
};

}  // namespace svi
