#include "verify/flips.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace pw {

namespace {

double l2_of(const float* v, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += double(v[i]) * double(v[i]);
  return std::sqrt(s);
}

}  // namespace

void relu_input_scale(const Tape& tape, const Op& relu, const Workspace& ws, std::vector<float>& scale) {
  const int z = relu.in[0];
  const TensorSpec& zs = tape.tensors[size_t(z)];
  const int rows = zs.rows, cols = zs.cols;
  scale.assign(size_t(zs.size()), 0.0f);
  const Op* made = nullptr;
  for (const Op& op : tape.ops)
    if (op.kind == OpKind::LinearForward && !op.out.empty() && op.out[0] == z) made = &op;
  if (!made) {  // another producer: the row's largest |z|
    for (int b = 0; b < rows; b++) {
      float m = 0;
      for (int u = 0; u < cols; u++) m = std::max(m, std::fabs(ws[z][int64_t(b) * cols + u]));
      std::fill(scale.begin() + int64_t(b) * cols, scale.begin() + int64_t(b + 1) * cols, m);
    }
    return;
  }
  const TensorSpec& w = tape.tensors[size_t(made->in[1])];  // (out, in)
  const float* x = ws[made->in[0]];
  const float* W = ws[made->in[1]];
  const float* bias = ws[made->in[2]];
  std::vector<double> xn(static_cast<size_t>(rows)), wn(static_cast<size_t>(cols));
  for (int b = 0; b < rows; b++) xn[size_t(b)] = l2_of(x + int64_t(b) * w.cols, w.cols);
  for (int u = 0; u < cols; u++) wn[size_t(u)] = l2_of(W + int64_t(u) * w.cols, w.cols);
  for (int b = 0; b < rows; b++)
    for (int u = 0; u < cols; u++)
      scale[size_t(b) * cols + size_t(u)] = float(xn[size_t(b)] * wn[size_t(u)] + std::fabs(double(bias[u])));
}

FlipObserver::FlipObserver(const TaskConfig& cfg, const Tape& tape, double margin)
    : cfg_(cfg), tape_(tape), margin_(margin) {
  const size_t n = tape.tensors.size();
  producer_.assign(n, -1);
  for (size_t i = 0; i < tape.ops.size(); i++)
    for (int o : tape.ops[i].out)
      if (producer_[size_t(o)] < 0) producer_[size_t(o)] = int(i);
  flags_.resize(n);
  d1_.resize(n);
  d2_.resize(n);
  grad_.resize(n);
  param_.resize(n);
  state_.resize(n);
  grad_mass_.assign(n, 0);
  flip_mass_.assign(n, 0);
}

void FlipObserver::reset() {
  flagged_ = 0;
  std::fill(param_.begin(), param_.end(), Bound{});
  std::fill(state_.begin(), state_.end(), Bound{});
  std::fill(grad_mass_.begin(), grad_mass_.end(), 0.0);
  std::fill(flip_mass_.begin(), flip_mass_.end(), 0.0);
  flag_list_.clear();
  snapshots_.clear();
  overflow_ = false;
}

OpHook FlipObserver::hook(int64_t s) {
  return [this, s](int index, Workspace& ws) { on_op(s, index, ws); };
}

void FlipObserver::on_op(int64_t s, int index, const Workspace& ws) {
  const Op& op = tape_.ops[size_t(index)];
  const int B = tape_.batch;
  auto cols = [&](int id) { return tape_.tensors[size_t(id)].cols; };
  auto has = [&](int id) { return !d1_[size_t(id)].empty(); };
  if (index == 0) {  // a step starts: no differences yet
    for (auto& v : d1_) v.clear();
    for (auto& v : d2_) v.clear();
    std::fill(grad_.begin(), grad_.end(), Bound{});
  }
  switch (op.kind) {
    case OpKind::ReluForward: {
      const int z = op.in[0], n = cols(z);
      std::vector<int>& f = flags_[size_t(op.out[0])];
      f.clear();
      if (margin_ <= 0) break;
      relu_input_scale(tape_, op, ws, scale_);
      const float* zv = ws[z];
      for (int64_t i = 0; i < int64_t(B) * n; i++)
        if (std::fabs(double(zv[i])) <= margin_ * double(scale_[size_t(i)])) f.push_back(int(i));
      flagged_ += int64_t(f.size());
      if (f.empty() || overflow_) break;
      if (flag_list_.size() + f.size() > kFlipReplayMax) {
        overflow_ = true, flag_list_.clear(), snapshots_.clear();
        break;
      }
      if (snapshots_.empty() || snapshots_.back().first != s) {
        snapshots_.push_back({s, {}});
        for (int id : checkpoint_tensors(tape_)) snapshots_.back().second.push_back(ws.t[size_t(id)]);
      }
      for (int i : f) flag_list_.push_back({s, index, i});
      break;
    }
    case OpKind::ReluBackward: {
      const int da = op.in[0], a = op.in[1], dz = op.out[0], n = cols(da);
      const std::vector<int>& f = flags_[size_t(a)];
      if (!has(da) && f.empty()) {
        d1_[size_t(dz)].clear(), d2_[size_t(dz)].clear();
        break;
      }
      std::vector<double> o1 = has(da) ? d1_[size_t(da)] : std::vector<double>(size_t(B), 0.0);
      std::vector<double> o2 = has(da) ? d2_[size_t(da)] : std::vector<double>(size_t(B), 0.0);
      std::vector<double> sq(size_t(B), 0.0);
      for (int i : f) {
        const double v = std::fabs(double(ws[da][i]));
        o1[size_t(i / n)] += v;
        sq[size_t(i / n)] += v * v;
      }
      for (int b = 0; b < B; b++) o2[size_t(b)] += std::sqrt(sq[size_t(b)]);
      d1_[size_t(dz)] = std::move(o1), d2_[size_t(dz)] = std::move(o2);
      break;
    }
    case OpKind::CutBackward:
      d1_[size_t(op.out[0])] = d1_[size_t(op.in[0])], d2_[size_t(op.out[0])] = d2_[size_t(op.in[0])];
      break;
    case OpKind::LinearBackwardInput: {
      const int dz = op.in[0], W = op.in[1], dx = op.out[0];
      if (!has(dz)) {
        d1_[size_t(dx)].clear(), d2_[size_t(dx)].clear();
        break;
      }
      const TensorSpec& w = tape_.tensors[size_t(W)];
      double fro = 0, row1 = 0;
      for (int o = 0; o < w.rows; o++) {
        double r = 0;
        for (int i = 0; i < w.cols; i++) {
          const double x = ws[W][int64_t(o) * w.cols + i];
          r += std::fabs(x), fro += x * x;
        }
        row1 = std::max(row1, r);
      }
      fro = std::sqrt(fro);
      d1_[size_t(dx)] = d1_[size_t(dz)], d2_[size_t(dx)] = d2_[size_t(dz)];
      for (auto& v : d1_[size_t(dx)]) v *= row1;
      for (auto& v : d2_[size_t(dx)]) v *= fro;
      break;
    }
    case OpKind::LinearBackwardWeight: {
      const int dz = op.in[0], x = op.in[1];
      Bound& g = grad_[size_t(op.out[0])];
      g = {};
      if (!has(dz)) break;
      const int n = cols(x);
      for (int b = 0; b < B; b++) {
        const double e1 = d1_[size_t(dz)][size_t(b)], e2 = d2_[size_t(dz)][size_t(b)];
        if (e1 == 0 && e2 == 0) continue;
        double x1 = 0, x2 = 0, xi = 0;
        for (int i = 0; i < n; i++) {
          const double v = std::fabs(double(ws[x][int64_t(b) * n + i]));
          x1 += v, x2 += v * v, xi = std::max(xi, v);
        }
        g.l1 += e1 * x1, g.l2 += e2 * std::sqrt(x2), g.linf += e2 * xi;
      }
      break;
    }
    case OpKind::LinearBackwardBias: {
      const int dz = op.in[0];
      Bound& g = grad_[size_t(op.out[0])];
      g = {};
      if (!has(dz)) break;
      for (int b = 0; b < B; b++) g.l1 += d1_[size_t(dz)][size_t(b)], g.l2 += d2_[size_t(dz)][size_t(b)];
      g.linf = g.l2;
      break;
    }
    case OpKind::SgdUpdate: {
      const SgdScalars sc = sgd_scalars(cfg_, s);
      const Bound& g = grad_[size_t(op.in[1])];
      Bound& p = param_[size_t(op.in[0])];
      Bound& buf = state_[size_t(op.in[2])];
      auto step = [&](double gv, double& pv, double& bv) {
        double d = gv + double(sc.weight_decay) * pv;
        if (sc.momentum != 0.0f) {
          bv = sc.first_step ? d : double(sc.momentum) * bv + d;
          d = bv;
        }
        pv += double(sc.lr) * d;
      };
      step(g.l1, p.l1, buf.l1);
      step(g.l2, p.l2, buf.l2);
      step(g.linf, p.linf, buf.linf);
      break;
    }
    case OpKind::AdamwUpdate: {
      const int p = op.in[0], g = op.in[1];
      grad_mass_[size_t(p)] += l2_of(ws[g], tape_.tensors[size_t(g)].size());
      flip_mass_[size_t(p)] += grad_[size_t(g)].l2;
      break;
    }
    default:
      break;
  }
}

Distances FlipObserver::tolerance(const Workspace& start, const Workspace& replayed) const {
  const std::vector<int> ids = checkpoint_tensors(tape_);
  const Distances norms = state_norms(tape_, replayed);
  const Distances du = state_distances(tape_, replayed, start);
  std::vector<Bound> b(ids.size());
  for (size_t k = 0; k < ids.size(); k++) {
    const int id = ids[k];
    b[k] = param_[size_t(id)];
    if (tape_.optimizer == OptimizerType::Sgd) b[k] = tape_.tensors[size_t(id)].role == Role::OptState ? state_[size_t(id)] : b[k];
  }
  if (tape_.optimizer == OptimizerType::Sgd) {
    // Feedback: the later steps train on the changed parameters, which moves every
    // tensor, not only those the flips reached: each gets kFlipFeedback times the flips'
    // share of the parameters' update, of its own change over the segment.
    double flip_sq = 0, update_sq = 0;
    for (size_t k = 0; k < ids.size(); k++)
      if (tape_.tensors[size_t(ids[k])].role == Role::Param)
        flip_sq += b[k].l2 * b[k].l2, update_sq += du.value[kL2][k] * du.value[kL2][k];
    const double rho = update_sq > 0 ? kFlipFeedback * std::sqrt(flip_sq / update_sq) : 0.0;
    for (size_t k = 0; k < ids.size(); k++)
      if (tape_.tensors[size_t(ids[k])].role != Role::CutState) {
        b[k].l1 += rho * du.value[kL1][k];
        b[k].l2 += rho * du.value[kL2][k];
        b[k].linf += rho * du.value[kLinf][k];
      }
  }
  if (tape_.optimizer == OptimizerType::Adamw) {
    auto pos = [&](int id) { return size_t(std::find(ids.begin(), ids.end(), id) - ids.begin()); };
    for (size_t i = 0; i < tape_.params.size(); i++) {
      const int p = tape_.params[i];
      const double r = grad_mass_[size_t(p)] > 0 ? flip_mass_[size_t(p)] / grad_mass_[size_t(p)] : 0.0;
      auto scaled = [&](const Distances& d, size_t k, double f) {
        return Bound{f * d.value[kL1][k], f * d.value[kL2][k], f * d.value[kLinf][k]};
      };
      b[pos(p)] = scaled(du, pos(p), r);
      b[pos(tape_.opt_state[2 * i])] = scaled(norms, pos(tape_.opt_state[2 * i]), r);
      b[pos(tape_.opt_state[2 * i + 1])] = scaled(norms, pos(tape_.opt_state[2 * i + 1]), 2 * r);
    }
  }
  Distances t;
  Bound all;
  double sq = 0;
  auto push = [&](const std::string& name, const Bound& x, double norm) {
    t.names.push_back(name);
    t.value[kL1].push_back(kFlipSafety * x.l1);
    t.value[kL2].push_back(kFlipSafety * x.l2);
    t.value[kLinf].push_back(kFlipSafety * x.linf);
    const double rel = norm > 0 ? kFlipSafety * x.l2 / norm : (x.l2 > 0 ? INFINITY : 0.0);
    t.value[kCosine].push_back(std::min(1.0, 0.5 * rel * rel));
  };
  for (size_t k = 0; k < ids.size(); k++) {
    push(tape_.tensors[size_t(ids[k])].name, b[k], norms.value[kL2][k]);
    all.l1 += b[k].l1, sq += b[k].l2 * b[k].l2, all.linf = std::max(all.linf, b[k].linf);
  }
  all.l2 = std::sqrt(sq);
  push("model", all, norms.value[kL2].back());
  return t;
}

FlipSpan FlipObserver::span(Trainer& tr, int64_t end, const Workspace& replayed) const {
  FlipSpan sp;
  const std::vector<int> ids = checkpoint_tensors(tape_);
  sp.bases_.resize(ids.size());
  sp.bound.assign(ids.size() + 1, 0.0);
  sp.overflow = overflow_;
  if (overflow_) return sp;
  // One replay a flag: the flip's whole effect on the segment's end state.
  std::vector<std::vector<std::vector<double>>> vecs(ids.size());
  for (const Flag& f : flag_list_) {
    const auto& snap = std::find_if(snapshots_.begin(), snapshots_.end(), [&](auto& x) { return x.first == f.step; })->second;
    for (size_t k = 0; k < ids.size(); k++) tr.ws.t[size_t(ids[k])] = snap[k];
    tr.step = f.step;
    tr.to_device();
    while (tr.step < end) {
      const int64_t s = tr.step;
      tr.run_step([&, s](int index, Workspace& ws) {
        if (s != f.step || index != f.op) return;
        const Op& op = tape_.ops[size_t(index)];
        float* a = ws[op.out[0]];
        const float z = ws[op.in[0]][f.element];
        a[f.element] = a[f.element] > 0 ? 0.0f : std::max(std::fabs(z), 1e-30f);
      });
    }
    tr.to_host();
    sp.replays++;
    double total = 0;
    for (size_t k = 0; k < ids.size(); k++) {
      const std::vector<float>& x = tr.ws.t[size_t(ids[k])];
      const std::vector<float>& y = replayed.t[size_t(ids[k])];
      std::vector<double> d(x.size());
      double sq = 0;
      for (size_t e = 0; e < d.size(); e++) d[e] = double(x[e]) - double(y[e]), sq += d[e] * d[e];
      sp.bound[k] += kFlipSafety * std::sqrt(sq);
      total += sq;
      if (sq > 0) vecs[k].push_back(std::move(d));
    }
    sp.bound.back() += kFlipSafety * std::sqrt(total);
  }
  // Per tensor, the independent vectors by pivoted Cholesky of their Gram matrix.
  for (size_t k = 0; k < ids.size(); k++) {
    const std::vector<std::vector<double>>& v = vecs[k];
    const size_t n = v.size();
    std::vector<double> G(n * n), d(n), L(n * n, 0.0);
    double dmax = 0;
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j <= i; j++) {
        double s = 0;
        for (size_t e = 0; e < v[i].size(); e++) s += v[i][e] * v[j][e];
        G[i * n + j] = G[j * n + i] = s;
      }
    for (size_t i = 0; i < n; i++) d[i] = G[i * n + i], dmax = std::max(dmax, d[i]);
    std::vector<size_t> pick;
    std::vector<bool> used(n, false);
    for (size_t c = 0; c < n; c++) {
      size_t j = n;
      for (size_t i = 0; i < n; i++)
        if (!used[i] && (j == n || d[i] > d[j])) j = i;
      if (j == n || !(d[j] > 1e-12 * dmax)) break;
      used[j] = true;
      pick.push_back(j);
      const double piv = std::sqrt(d[j]);
      L[j * n + c] = piv;
      for (size_t i = 0; i < n; i++) {
        if (used[i]) continue;
        double x = G[i * n + j];
        for (size_t m = 0; m < c; m++) x -= L[i * n + m] * L[j * n + m];
        L[i * n + c] = x / piv;
        d[i] -= L[i * n + c] * L[i * n + c];
      }
    }
    FlipSpan::Basis& bs = sp.bases_[k];
    const size_t r = pick.size();
    bs.chol.assign(r * r, 0.0);
    for (size_t a = 0; a < r; a++) {
      bs.dirs.push_back(v[pick[a]]);
      for (size_t c = 0; c <= a; c++) bs.chol[a * r + c] = L[pick[a] * n + c];
    }
  }
  return sp;
}

std::vector<double> FlipSpan::split(std::vector<std::vector<double>>& r) const {
  std::vector<double> out(r.size() + 1, 0.0);
  double total = 0;
  for (size_t k = 0; k < bases_.size() && k < r.size(); k++) {
    const Basis& bs = bases_[k];
    std::vector<double>& R = r[k];
    const size_t n = bs.dirs.size();
    if (n == 0 || R.size() != bs.dirs[0].size()) continue;
    // h = <R, v_a>; L y = h; Lᵀ c = y; ‖projection‖₂ = ‖y‖₂.
    std::vector<double> y(n), c(n);
    double sq = 0;
    for (size_t a = 0; a < n; a++) {
      double h = 0;
      for (size_t e = 0; e < R.size(); e++) h += R[e] * bs.dirs[a][e];
      for (size_t m = 0; m < a; m++) h -= bs.chol[a * n + m] * y[m];
      y[a] = h / bs.chol[a * n + a];
      sq += y[a] * y[a];
    }
    for (size_t a = n; a-- > 0;) {
      double x = y[a];
      for (size_t m = a + 1; m < n; m++) x -= bs.chol[m * n + a] * c[m];
      c[a] = x / bs.chol[a * n + a];
    }
    for (size_t a = 0; a < n; a++)
      for (size_t e = 0; e < R.size(); e++) R[e] -= c[a] * bs.dirs[a][e];
    out[k] = std::sqrt(sq);
    total += sq;
  }
  out.back() = std::sqrt(total);
  return out;
}

Distances add_tolerance(const Distances& thresholds, const Distances& extra) {
  if (thresholds.names != extra.names) return thresholds;  // exceeds() reports the mismatch
  Distances t = thresholds;
  for (int m = 0; m < kMetrics; m++)
    for (size_t i = 0; i < t.size(); i++) t.value[m][i] += extra.value[m][i];
  return t;
}

}  // namespace pw
