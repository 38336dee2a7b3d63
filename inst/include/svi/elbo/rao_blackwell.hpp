// Partial Rao-Blackwellization over plates (pyro-semantics 3.3): cost terms, each living on
// its own plates, reduced to the plates of a target site -- the same index on shared plates,
// summed over the term's other plates, added in full (broadcast) where the term lacks a plate
// of the target. The result has the target's plate shape and carries no gradient (plate_sum
// is forward-only, so a replayed tape recomputes it).
#pragma once
#include <vector>
#include "../ops/plate.hpp"
#include "../site.hpp"
#include "../tape.hpp"

namespace svi {

struct CostTerm {
  const std::vector<Frame>* frames;
  int value;  // a node with the frames' shape
};

inline int reduce_to_frames(Tape& t, int value, const std::vector<Frame>& src,
                            const std::vector<Frame>& target) {
  std::vector<int> ss, ts, map(src.size(), -1);
  for (const Frame& f : src) ss.push_back(f.size);
  for (const Frame& f : target) ts.push_back(f.size);
  for (std::size_t a = 0; a < src.size(); ++a)
    for (std::size_t b = 0; b < target.size(); ++b)
      if (src[a].name == target[b].name) { map[a] = int(b); break; }
  return plate_sum(t, value, ss, ts, map);
}

// The terms reduced onto `target` and added up in order (zeros for no terms).
inline int sum_to_frames(Tape& t, const std::vector<CostTerm>& terms, const std::vector<Frame>& target) {
  int acc = -1;
  for (const CostTerm& c : terms) {
    int p = reduce_to_frames(t, c.value, *c.frames, target);
    acc = acc < 0 ? p : add(t, acc, p);
  }
  if (acc >= 0) return acc;
  std::vector<int> ts;
  for (const Frame& f : target) ts.push_back(f.size);
  Shape z = shape_of_sizes(ts);
  Vec zeros = Vec::Zero(z.n);
  return t.leaf(Leaf::Constant, zeros.data(), z);
}

}  // namespace svi
