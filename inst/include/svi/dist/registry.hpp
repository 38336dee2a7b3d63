// Distribution families by name, so the glue (and a replayed tape) can build log-prob and
// sampling ops from a family string and parameter nodes.
#pragma once
#include <cstring>
#include <string>
#include "common.hpp"
#include "family.hpp"
#include "continuous.hpp"
#include "discrete.hpp"
#include "multivariate.hpp"
#include "wishart.hpp"

namespace svi {
namespace dist {

template <class D, class = void>
struct HasLpPrepare : std::false_type {};
template <class D>
struct HasLpPrepare<D, std::void_t<decltype(&D::lp_prepare)>> : std::true_type {};

template <class D>
int lp_make(Tape& t, const int* ins) {
  if constexpr (HasLpPrepare<D>::value) return Elementwise<LogProbFnFixed<D>>::make(t, ins);
  else return Elementwise<LogProbFn<D>>::make(t, ins);
}
template <class D>
int sample_make(Tape& t, const int* ins, int reps, bool reparam) {
  return Sampler<D>::make(t, ins, reps, reparam);
}
template <class D>
constexpr Family fam(const char* name) {
  return Family{name, D::P, lp_make<D>, sample_make<D>, D::REPARAM};
}

inline const Family& family(const char* name) {
  static const Family table[] = {
      fam<Normal>("normal"),
      fam<LogNormal>("lognormal"),
      fam<HalfNormal>("half_normal"),
      fam<Cauchy>("cauchy"),
      fam<HalfCauchy>("half_cauchy"),
      fam<StudentT>("student_t"),
      fam<Laplace>("laplace"),
      fam<Exponential>("exponential"),
      fam<Gamma>("gamma"),
      fam<Beta>("beta"),
      fam<Uniform>("uniform"),
      fam<Delta>("delta"),
      fam<BernoulliProb>("bernoulli_prob"),
      fam<BernoulliLogit>("bernoulli_logit"),
      fam<BinomialProb>("binomial_prob"),
      fam<BinomialLogit>("binomial_logit"),
      fam<Poisson>("poisson"),
      fam<NegBinomialProb>("negative_binomial_prob"),
      fam<NegBinomialMu>("negative_binomial_mu"),
      Family{"categorical_prob", 1, categorical_log_prob<false>, categorical_sample<false>, false},
      Family{"categorical_logit", 1, categorical_log_prob<true>, categorical_sample<true>, false},
      Family{"dirichlet", 1, dirichlet_log_prob, dirichlet_sample, true},
      Family{"mvnormal", 2, mvnormal_log_prob<false>, mvnormal_sample<false>, true},
      Family{"mvnormal_precision", 2, mvnormal_log_prob<true>, mvnormal_sample<true>, true},
      Family{"lkj_cholesky", 2, lkj_log_prob, lkj_sample, false},
      Family{"wishart", 2, wishart_log_prob, wishart_sample, false},
  };
  for (const Family& f : table)
    if (name[0] == f.name[0] && !std::strcmp(name, f.name)) return f;
  throw Error(std::string("internal: unknown distribution family '") + name + "'");
}

inline const Family& family(const std::string& name) { return family(name.c_str()); }

}  // namespace dist
}  // namespace svi
