// The optimizers of the svi core: one step function per optimizer, each
// `xxx_step(theta, grad, n, state, config)` on caller-owned arrays, plus gradient clipping and
// learning-rate schedules. No R headers.
#pragma once
#include "common.hpp"
#include "adam.hpp"
#include "clipped_adam.hpp"
#include "sgd.hpp"
#include "schedule.hpp"
