// The tape: reverse-mode automatic differentiation whose nodes are whole arrays.
//
// Nodes live in an arena (std::vector) and refer to their inputs by index. Each node keeps its
// op (a pair of forward/backward functions), its inputs and attributes, so the graph can be
// re-run forward and backward with new leaf values without the code that built it (replay).
// Clearing a tape keeps the arena and the nodes' buffers, so re-recording a graph of the same
// shape allocates nothing.
#pragma once
#include "eigen.hpp"
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>
#include "error.hpp"
#include "rng.hpp"
#include "shape.hpp"

namespace svi {

using Vec = Eigen::ArrayXd;
using CMap = Eigen::Map<const Eigen::ArrayXd>;

struct Tape;
struct Node;
using OpFn = void (*)(Tape&, Node&);

struct OpDef {
  const char* name;
  OpFn forward;   // fill node.own from the inputs' values
  OpFn backward;  // add node.grad's contribution into the inputs' grads
};

enum class Leaf : std::uint8_t {
  None,      // an op's result
  Constant,  // data: fixed for the life of the tape (may point at memory the caller owns)
  Input,     // a value the caller differentiates with respect to (params, value_and_grad's x)
  Index,     // integer-valued indices (minibatches, gathers), refilled on replay
  Noise,     // random draws, refilled on replay
  State      // carried between steps by the caller (decaying-average baselines)
};

struct Node {
  const OpDef* op = nullptr;
  Leaf leaf = Leaf::None;
  int in[4] = {-1, -1, -1, -1};
  int nin = 0;
  std::vector<int> more;        // inputs beyond four (concatenation)
  Shape shape;
  Vec own;                      // the value, unless ext is set
  const double* ext = nullptr;  // a constant's value in caller-owned memory (not copied)
  Vec grad;
  bool needs_grad = false;      // depends on an Input leaf
  bool grad_set = false;        // grad holds this sweep's value (else it is implicitly zero)
  double a0 = 0, a1 = 0;        // op attributes
  int i0 = 0, i1 = 0, i2 = 0;
  Vec aux;                      // op scratch kept for the backward pass, or a cache (gather)
  const double* aux_of = nullptr;  // what aux was made from (gather's cache), reset per recording
  // Provenance: the non-reparameterized sample sites this value depends on (bit k = site k of
  // the step), propagated as the union over inputs when a node is recorded. Empty for the
  // common case of none, so it costs nothing there. Used by TraceGraph_ELBO.
  std::vector<std::uint64_t> prov;

  const double* data() const { return ext ? ext : own.data(); }
  CMap value() const { return CMap(data(), shape.n); }
};

struct Tape {
  std::vector<Node> nodes;
  int count = 0;
  Rng* rng = nullptr;  // sampling ops draw from this on record and on replay

  Rng& random() {
    if (!rng) throw Error("internal: this tape has no random number source");
    return *rng;
  }

  const Node& node(int i) const { return nodes[i]; }
  Node& node(int i) { return nodes[i]; }
  CMap val(int i) const { return nodes[i].value(); }
  const Shape& shape(int i) const { return nodes[i].shape; }
  int size() const { return count; }

  void clear() { count = 0; }

  void check_index(int i) const {
    if (i < 0 || i >= count) throw Error("tensor handle refers to a node that is not on this tape");
  }

  // A fresh slot in the arena; its buffers are kept from an earlier use when there was one.
  Node& alloc() {
    if (count == int(nodes.size())) nodes.emplace_back();
    Node& x = nodes[count++];
    x.op = nullptr; x.leaf = Leaf::None; x.nin = 0; x.more.clear();
    x.in[0] = x.in[1] = x.in[2] = x.in[3] = -1;
    x.ext = nullptr; x.needs_grad = false; x.grad_set = false;
    x.aux_of = nullptr;
    if (x.aux.size() > (Eigen::Index(1) << 16)) x.aux.resize(0);  // a gather's data-sized cache
    x.a0 = x.a1 = 0; x.i0 = x.i1 = x.i2 = 0;
    x.prov.clear();
    return x;
  }

  // A leaf holding a copy of `v`.
  int leaf(Leaf kind, const double* v, Shape s) {
    Node& x = alloc();
    x.leaf = kind; x.shape = s;
    x.own = CMap(v, s.n);
    x.needs_grad = (kind == Leaf::Input);
    return count - 1;
  }

  // A constant leaf that points at caller-owned memory; the caller keeps it alive.
  int constant_ref(const double* v, Shape s) {
    Node& x = alloc();
    x.leaf = Leaf::Constant; x.shape = s; x.ext = v;
    return count - 1;
  }

  int scalar(double v) { return leaf(Leaf::Constant, &v, Shape::vec(1)); }

  // Records an op node and computes its value.
  int op(const OpDef* def, std::initializer_list<int> ins, Shape s,  // by value: alloc() may move the arena
         double a0 = 0, double a1 = 0, int i0 = 0, int i1 = 0, int i2 = 0) {
    for (int i : ins) check_index(i);
    Node& x = alloc();
    x.op = def; x.shape = s;
    x.a0 = a0; x.a1 = a1; x.i0 = i0; x.i1 = i1; x.i2 = i2;
    int k = 0;
    for (int i : ins) {
      if (k < 4) x.in[k] = i; else x.more.push_back(i);
      x.needs_grad = x.needs_grad || nodes[i].needs_grad;
      if (!nodes[i].prov.empty()) merge_prov(x, nodes[i]);
      ++k;
    }
    x.nin = k;
    int idx = count - 1;
    try {
      def->forward(*this, nodes[idx]);
    } catch (...) {
      --count;  // a failed op leaves no half-made node behind
      throw;
    }
    return idx;
  }

  static void merge_prov(Node& into, const Node& from) {
    if (into.prov.size() < from.prov.size()) into.prov.resize(from.prov.size(), 0);
    for (std::size_t w = 0; w < from.prov.size(); ++w) into.prov[w] |= from.prov[w];
  }

  // Marks node i as depending on site `site` (0-based); later nodes inherit the mark.
  void add_provenance(int i, int site) {
    check_index(i);
    std::size_t w = std::size_t(site) / 64;
    Node& x = nodes[i];
    if (x.prov.size() <= w) x.prov.resize(w + 1, 0);
    x.prov[w] |= std::uint64_t(1) << (site % 64);
  }

  std::vector<int> provenance(int i) const {
    check_index(i);
    std::vector<int> out;
    const Node& x = nodes[i];
    for (std::size_t w = 0; w < x.prov.size(); ++w)
      for (int b = 0; b < 64; ++b)
        if (x.prov[w] >> b & 1u) out.push_back(int(w * 64 + b));
    return out;
  }

  int input(const Node& x, int k) const { return k < 4 ? x.in[k] : x.more[k - 4]; }

  // Re-runs the forward pass of ops in [from, to) with the leaves' current values.
  void forward(int from = 0, int to = -1) {
    if (to < 0) to = count;
    for (int i = from; i < to; ++i)
      if (nodes[i].op) nodes[i].op->forward(*this, nodes[i]);
  }

  // Reverse sweep from node `out` (length 1) with seed d(out) = 1.
  void backward(int out) {
    check_index(out);
    if (nodes[out].shape.n != 1)
      throw Error("backward() needs a scalar (length-1) result, got " + nodes[out].shape.str());
    for (int i = 0; i <= out; ++i) nodes[i].grad_set = false;
    Node& o = nodes[out];
    if (!o.needs_grad) return;
    o.grad.setOnes(1);
    o.grad_set = true;
    for (int i = out; i >= 0; --i) {
      Node& x = nodes[i];
      if (x.op && x.needs_grad && x.grad_set) x.op->backward(*this, x);
    }
  }

  // d(out)/d(node i) after backward(); zeros when no gradient reached it.
  Vec grad(int i) const {
    const Node& x = nodes[i];
    if (x.grad_set) return x.grad;
    return Vec::Zero(x.shape.n);
  }

  // Adds a gradient contribution into input `i`, summing it when `i` was broadcast (a scalar).
  template <class E>
  void acc(int i, const E& g) {
    Node& x = nodes[i];
    if (!x.needs_grad) return;
    if (x.shape.n == 1 && g.size() != 1) {
      double s = g.sum();
      if (!x.grad_set) { x.grad.resize(1); x.grad[0] = s; x.grad_set = true; }
      else x.grad[0] += s;
      return;
    }
    if (!x.grad_set) { x.grad = g; x.grad_set = true; }
    else x.grad += g;
  }

  // As acc(i, g), for g of shape `out` that input i broadcast to (dims of 1 expanded): the
  // gradient is summed back to i's shape. Scalar and equal-length inputs take acc()'s path.
  template <class E>
  void acc(int i, const E& g, const Shape& out) {
    Node& x = nodes[i];
    if (!x.needs_grad) return;
    if (needs_expand(x.shape, out)) acc(i, sum_to(g, x.shape, out));
    else acc(i, g);
  }

  void acc_scalar(int i, double g) {
    Node& x = nodes[i];
    if (!x.needs_grad) return;
    if (!x.grad_set) { x.grad.setConstant(x.shape.n, g); x.grad_set = true; }
    else x.grad += g;
  }
};

}  // namespace svi
