// What a sample site's distribution does on the tape: draw a value of the plates' batch shape
// (expanding a scalar batch over the plates, as R's dist_expand() does: every parameter plus a
// zero array of the plates' shape), and the log-density reduced to one term per plate element
// (pyro-semantics 5.1: dims after the plates' are event dims and are summed), then masked and
// scaled.
#pragma once
#include <string>
#include <vector>
#include "ops/arith.hpp"
#include "ops/index.hpp"
#include "ops/mask.hpp"
#include "ops/reduce.hpp"
#include "site.hpp"

namespace svi {

inline Shape shape_of_sizes(const std::vector<int>& sizes) {
  Eigen::Index n = 1;
  for (int d : sizes) n *= d;
  Shape s = Shape::vec(n);
  if (sizes.size() > 1) {
    if (sizes.size() > std::size_t(kMaxDims)) throw Error("more than 8 nested plates");
    s.nd = int(sizes.size());
    for (int k = 0; k < s.nd; ++k) s.d[k] = sizes[k];
  }
  return s;
}

inline std::string sizes_str(const std::vector<int>& v) {
  std::string s = "[";
  for (std::size_t k = 0; k < v.size(); ++k) s += (k ? ", " : "") + std::to_string(v[k]);
  return s + "]";
}

inline std::vector<int> dims_of(const Shape& s) {
  if (s.nd == 0) return {int(s.n)};
  return std::vector<int>(s.d, s.d + s.nd);
}

// The batch shape of a distribution: its parameters' broadcast shape, less the event dim of
// parameters that carry a vector per batch element (dirichlet, mvnormal, categorical).
inline std::vector<int> batch_shape(const Tape& t, const DistRef& d) {
  if (d.nparams == 0) return {};
  Shape s = t.shape(d.params[0]);
  for (int j = 1; j < d.nparams; ++j) s = broadcast_shape(s, t.shape(d.params[j]), d.family->name);
  if (s.nd == 0 && (s.n == 1 || d.vec_param)) return {};  // the common scalar case, without allocating
  std::vector<int> b = dims_of(s);
  if (d.vec_param) b.pop_back();
  if (b.size() == 1 && b[0] == 1) b.clear();
  return b;
}

inline Eigen::Index prod(const std::vector<int>& v) {
  Eigen::Index n = 1;
  for (int d : v) n *= d;
  return n;
}

inline std::string plate_names(const Site& s) {
  std::string out;
  for (std::size_t k = 0; k < s.frames.size(); ++k) out += (k ? ", " : "") + s.frames[k].name;
  return out;
}

// The distribution a site draws from: expanded to the plates' shape when its batch is scalar.
inline DistRef site_dist(Tape& t, const Site& s) {
  std::vector<int> target = s.plate_shape();
  if (target.empty()) return s.dist;
  std::vector<int> bs = batch_shape(t, s.dist);
  if (bs.size() >= target.size() && std::equal(target.begin(), target.end(), bs.begin())) return s.dist;
  if (bs.empty() || prod(bs) == 1) {
    Shape z = shape_of_sizes(target);
    Vec zeros = Vec::Zero(z.n);
    int zero = t.leaf(Leaf::Constant, zeros.data(), z);
    DistRef d = s.dist;
    for (int j = 0; j < d.nparams; ++j) d.params[j] = add(t, d.params[j], zero);
    return d;
  }
  throw Error("Shape mismatch at site \"" + s.name + "\" inside plate(s) " + plate_names(s) +
              ": the distribution's batch shape is " + sizes_str(bs) + " but the plates need " +
              sizes_str(target) + ".");
}

inline int draw_site(Tape& t, const Site& s) {
  DistRef d = site_dist(t, s);
  return d.family->sample(t, d.params, 0, d.has_rsample);
}

// lp (elementwise or per event) as one term per plate element of site s.
inline int finish_log_prob(Tape& t, const Site& s, int lp) {
  std::vector<int> target = s.plate_shape();
  Shape shape = t.shape(lp);  // a copy: ops below may grow the arena
  Eigen::Index nt = prod(target);
  if (shape.n == nt) {
    if (target.size() > 1 && dims_of(shape) != target) return reshape(t, lp, shape_of_sizes(target));
    return lp;
  }
  if (target.empty()) return sum(t, lp);
  if (shape.n == 1) {  // a scalar density inside plates broadcasts over them
    Shape z = shape_of_sizes(target);
    Vec zeros = Vec::Zero(z.n);
    return add(t, lp, t.leaf(Leaf::Constant, zeros.data(), z));
  }
  std::vector<int> dims = dims_of(shape);
  std::size_t k = target.size();
  if (dims.size() > k && std::equal(target.begin(), target.end(), dims.begin())) {
    int m = reshape(t, lp, Shape::mat(int(nt), int(shape.n / nt)));
    int r = sum(t, m, 1);
    return k > 1 ? reshape(t, r, shape_of_sizes(target)) : r;
  }
  throw Error("Invalid log-density shape at site \"" + s.name + "\": its plates need " +
              sizes_str(target) + " (then any event dims), got " + sizes_str(dims) +
              ". Put batched data inside a plate, with the plate's dimension first.");
}

// The unscaled, unmasked log-density (the score function of a guide site); a factor's is its
// value.
inline int site_log_prob_raw(Tape& t, const Site& s) {
  if (s.kind == SiteKind::Factor) return finish_log_prob(t, s, s.value);
  int ins[5] = {s.value, s.dist.params[0], s.dist.params[1], s.dist.params[2], s.dist.params[3]};
  return finish_log_prob(t, s, s.dist.family->log_prob(t, ins));
}

// x with like's dims (same length): a scale vector over a 2-d plate shape.
inline int like_shape_of(Tape& t, int x, int like) {
  const Shape& a = t.shape(x);
  Shape b = t.shape(like);
  if (a.nd == b.nd && (a.nd == 0 || a.same_dims(b))) return x;
  return reshape(t, x, b);
}

inline int scale_and_mask(Tape& t, int lp, double scale, int mask, bool mask_false) {
  if (mask_false) lp = mul(t, lp, t.scalar(0));
  else if (mask >= 0) lp = svi::mask(t, lp, mask);
  if (scale != 1) lp = mul(t, lp, t.scalar(scale));
  return lp;
}

// lp (plate-shaped, of site s) masked and scaled by s's mask and scales. A tensor scale has
// one value per plate element (or one in all) and broadcasts over the plates, as R's lp * scale.
inline int scale_and_mask(Tape& t, int lp, const Site& s) {
  lp = scale_and_mask(t, lp, s.scale, s.mask, s.mask_false);
  if (s.scale_node < 0) return lp;
  Eigen::Index n = t.shape(s.scale_node).n, m = t.shape(lp).n;
  if (n != 1 && n != m)
    throw Error("The scale at site \"" + s.name + "\" has " + std::to_string(n) +
                " values but the site's log-density has " + std::to_string(m) +
                " (one per element of its plates " + sizes_str(s.plate_shape()) +
                "). Give one scale, or one per plate element.");
  int sc = n == m && n > 1 ? like_shape_of(t, s.scale_node, lp) : s.scale_node;
  return mul(t, lp, sc);
}

// Fills s.log_prob_raw and s.log_prob (once).
inline int site_log_prob(Tape& t, Site& s) {
  if (s.log_prob >= 0) return s.log_prob;
  s.log_prob_raw = site_log_prob_raw(t, s);
  s.log_prob = scale_and_mask(t, s.log_prob_raw, s);
  return s.log_prob;
}

}  // namespace svi
