// Minibatch indices: the first k entries of a random permutation of 1..n, drawn exactly as R's
// sample.int(n, k) does (partial Fisher-Yates with one uniform index per draw), but storing
// only the swapped entries, so the cost is O(k) whatever n is.
#pragma once
#include <unordered_map>
#include <vector>
#include "error.hpp"
#include "rng.hpp"

namespace svi {

inline void subsample_indices(Rng& rng, long long n, long long k, double* out) {
  if (k > n || k < 0) throw Error("subsample size must be between 0 and the plate size");
  std::unordered_map<long long, long long> moved;  // x[j] for every j that was overwritten
  moved.reserve(std::size_t(k) * 2);
  auto at = [&](long long j) {
    auto it = moved.find(j);
    return it == moved.end() ? j : it->second;
  };
  long long m = n;
  for (long long i = 0; i < k; ++i) {
    long long j = static_cast<long long>(rng.index(double(m)));
    out[i] = double(at(j) + 1);
    moved[j] = at(--m);
  }
}

}  // namespace svi
