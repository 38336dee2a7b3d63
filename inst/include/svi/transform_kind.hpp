// The constraint transforms' kind codes (R's constraint objects carry them). Separate from
// transforms.hpp, which compiles every transform's ops, so code that only names a kind need
// not.
#pragma once

namespace svi {
namespace transform {

enum Kind : int {
  Real = 0,
  Positive = 1,
  GreaterThan = 2,   // a0 = lower bound
  LessThan = 3,      // a0 = upper bound
  UnitInterval = 4,
  Interval = 5,      // a0, a1 = bounds
  Softmax = 6,       // simplex, as the parameter store maps it (not a bijection)
  StickBreaking = 7, // simplex, the bijection (K - 1 free coordinates per row)
  LowerCholesky = 8,
  PositiveDefinite = 9,
  Ordered = 10,
  SoftplusPositive = 11,  // positive through softplus (Pyro's softplus_positive)
  UnitLowerCholesky = 12, // strictly lower triangle + identity
  CorrCholesky = 13       // Cholesky factor of a correlation matrix (D (D - 1) / 2 free entries)
};

}  // namespace transform
}  // namespace svi
