// Learning-rate schedules in torch's "chainable" form: each schedule step multiplies the current
// lr (which may already carry other decays, e.g. ClippedAdam's lrd) rather than recomputing it
// from the initial one. `epoch` is the schedule's step count after advancing (1, 2, ...).
#pragma once
#include <cmath>
#include <vector>
#include "../error.hpp"

namespace svi {
namespace optim {

enum class ScheduleKind { step, exponential, multistep };

struct Schedule {
  ScheduleKind kind = ScheduleKind::exponential;
  long long step_size = 1;               // step
  double gamma = 0.1;                    // all
  std::vector<long long> milestones;     // multistep (repeats count several times, as in torch)
};

inline double schedule_next_lr(const Schedule& s, double lr, long long epoch) {
  if (epoch < 1) throw Error("a learning-rate schedule advances to epoch 1 or later");
  switch (s.kind) {
    case ScheduleKind::step:
      return epoch % s.step_size == 0 ? lr * s.gamma : lr;
    case ScheduleKind::exponential:
      return lr * s.gamma;
    case ScheduleKind::multistep: {
      int hits = 0;
      for (long long m : s.milestones) hits += (m == epoch);
      return hits ? lr * std::pow(s.gamma, hits) : lr;
    }
  }
  return lr;
}

}  // namespace optim
}  // namespace svi
