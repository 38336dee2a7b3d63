// Distributions, transforms and KL divergences on the tape.
#pragma once
#include "common.hpp"
#include "density.hpp"
#include "gamma_grad.hpp"
#include "continuous.hpp"
#include "discrete.hpp"
#include "multivariate.hpp"
#include "wishart.hpp"
#include "registry.hpp"
#include "../transforms.hpp"
#include "../kl.hpp"
