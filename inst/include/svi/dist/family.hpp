// A distribution family as the tape sees it: its name, parameter count and the two op
// builders. Separate from registry.hpp (which instantiates every family's ops) so that code
// holding or calling a Family does not compile them all.
#pragma once
#include "../tape.hpp"

namespace svi {
namespace dist {

struct Family {
  const char* name;
  int nparams;
  // ins = {value, params...}
  int (*log_prob)(Tape&, const int* ins);
  // ins = {params...}; reps: 0 for one draw of the batch, else draws along a leading dim
  int (*sample)(Tape&, const int* ins, int reps, bool reparam);
  bool reparam;  // whether draws can carry gradients at all
};

}  // namespace dist
}  // namespace svi
