// The svi core: array autodiff tape and its ops. Header-only, no R headers.
#pragma once
#include "error.hpp"
#include "shape.hpp"
#include "rng.hpp"
#include "special.hpp"
#include "subsample.hpp"
#include "tape.hpp"
#include "ops/arith.hpp"
#include "ops/math.hpp"
#include "ops/reduce.hpp"
#include "ops/linalg.hpp"
#include "ops/index.hpp"
#include "ops/mask.hpp"
