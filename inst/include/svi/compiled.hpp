// Compiled mode (pyro-semantics: none; the package's own): a recorded step replayed on the
// tape. Engine::compile() runs two ordinary steps while recording, checks that both recorded
// the same computation (same ops, shapes, inputs, attributes and constants, node by node) and
// keeps the second tape; Engine::replay_steps() then re-runs it forward (the sampling and
// subsample ops redraw from the engine's Rng in recording order, so a replayed step consumes
// the random stream exactly as a dynamic step does), backward, and applies the optimizer's
// update as a dynamic step would. As src/glue_compiled.cpp + R/svi-compiled.R.
#pragma once
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>
#include "error.hpp"
#include "tape.hpp"

namespace svi {

// Where a site call began on the tape, so that a structure change can be reported by site.
struct SiteMark {
  std::string name;
  int node;
};

// What a replay needs from a recorded step, and the recording's signature.
struct Recording {
  std::vector<std::uint64_t> signature;  // one hash per node
  std::vector<SiteMark> marks;
  int loss = -1, surrogate = -1;
  std::vector<std::pair<int, int>> leaves;  // (store entry, Input leaf node)
  std::vector<const double*> leaf_data;     // the store memory each leaf reads
  struct Average {
    std::string name;
    int leaf, next;  // the State leaf holding the stored average; the node of its update
  };
  std::vector<Average> averages;
  void clear() {
    signature.clear(); marks.clear(); leaves.clear(); leaf_data.clear(); averages.clear();
    loss = surrogate = -1;
  }
};

namespace detail {
inline void fnv(std::uint64_t& h, const void* p, std::size_t n) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  for (std::size_t k = 0; k < n; ++k) { h ^= b[k]; h *= 1099511628211ull; }
}
}  // namespace detail

// Everything a replay of node i depends on, hashed: op, leaf kind, shape, inputs, attributes,
// and a constant's values (constants are baked into the replay, so a constant that changes
// between steps is a change of structure).
inline std::uint64_t node_signature(const Tape& t, int i) {
  const Node& x = t.node(i);
  std::uint64_t h = 1469598103934665603ull;
  const char* op = x.op ? x.op->name : "";
  detail::fnv(h, op, std::strlen(op));
  detail::fnv(h, &x.leaf, sizeof x.leaf);
  detail::fnv(h, &x.shape.n, sizeof x.shape.n);
  detail::fnv(h, &x.shape.nd, sizeof x.shape.nd);
  detail::fnv(h, x.shape.d, sizeof(int) * std::size_t(x.shape.nd));
  for (int k = 0; k < x.nin; ++k) { int j = t.input(x, k); detail::fnv(h, &j, sizeof j); }
  detail::fnv(h, &x.a0, sizeof x.a0);
  detail::fnv(h, &x.a1, sizeof x.a1);
  int ia[3] = {x.i0, x.i1, x.i2};
  detail::fnv(h, ia, sizeof ia);
  if (x.leaf == Leaf::Constant) detail::fnv(h, x.data(), sizeof(double) * std::size_t(x.shape.n));
  return h;
}

inline void sign_tape(const Tape& t, std::vector<std::uint64_t>& out) {
  out.resize(std::size_t(t.size()));
  for (int i = 0; i < t.size(); ++i) out[std::size_t(i)] = node_signature(t, i);
}

// Throws, naming the first site whose recording differs, when b is not the same computation.
inline void check_same_structure(const Recording& a, const Recording& b) {
  auto fail = [](const std::string& what) {
    throw Error("The model's structure is not static, so it cannot be compiled: " + what +
                " Use the dynamic step for models whose sites, shapes or branches change between steps.");
  };
  const std::size_t na = a.marks.size(), nb = b.marks.size();
  for (std::size_t k = 0; k < std::max(na, nb); ++k) {
    if (k < na && k < nb && a.marks[k].name == b.marks[k].name) continue;
    bool a_only = k >= nb;
    if (!a_only && k < na) {  // the first recording's site is missing from the second?
      a_only = true;
      for (const SiteMark& m : b.marks)
        if (m.name == a.marks[k].name) { a_only = false; break; }
    }
    if (a_only) fail("site \"" + a.marks[k].name + "\" appeared in one step but not in the next.");
    fail("site \"" + b.marks[k].name + "\" appeared in one step but not in the one before.");
  }
  const std::size_t la = a.signature.size(), lb = b.signature.size();
  std::size_t j = 0;
  while (j < la && j < lb && a.signature[j] == b.signature[j]) ++j;
  if (j == la && j == lb) return;
  // the last site call begun at or before node j, and the next one (node j may be an argument
  // computed just before that next call)
  std::size_t k = 0;
  while (k < b.marks.size() && std::size_t(b.marks[k].node) <= j) ++k;
  std::string where;
  if (k == 0) where = b.marks.empty() ? "in the step" : "before site \"" + b.marks[0].name + "\"";
  else if (k == b.marks.size()) where = "at or after site \"" + b.marks[k - 1].name + "\"";
  else where = "between site \"" + b.marks[k - 1].name + "\" and site \"" + b.marks[k].name + "\"";
  fail("the computation changed " + where +
       " (a shape, an operation, a constant or a branch differs between steps).");
}

}  // namespace svi
