// lib/tensor/transformer: the GPT's kernels. Forwards against a plain double reference
// (1e-5 relative), backwards against central finite differences of that reference in
// double, each kernel against a float replica of the order transformer.hpp documents
// (bitwise: the exact-mode contract), 1 against 2 threads (bitwise), causality, the
// embedding's accumulate-into-dwte rule, and tanh_f32's accuracy against tanh in double.
#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include "tensor/transformer.hpp"
#include "unit_helpers.hpp"

namespace {

using pwtest::TestRng;
using pwtest::ulp_error;
using Vec = std::vector<float>;
using DVec = std::vector<double>;

Vec random_vec(TestRng& rng, size_t n, float lo, float hi) {
  Vec v(n);
  for (auto& x : v) x = rng.uniform(lo, hi);
  return v;
}
DVec to_double(const Vec& v) { return DVec(v.begin(), v.end()); }

bool same_bits(const Vec& a, const Vec& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// max_i |got − ref| / (|ref| + floor·max|ref|): relative error, with a floor for the
// entries that are sums near cancellation (their relative error means nothing).
double rel_error(const Vec& got, const DVec& ref, double floor = 1e-3) {
  REQUIRE(got.size() == ref.size());
  double scale = 0, worst = 0;
  for (double r : ref) scale = std::max(scale, std::fabs(r));
  for (size_t i = 0; i < ref.size(); i++) {
    if (!std::isfinite(got[i])) return 1e30;
    worst = std::max(worst, std::fabs(double(got[i]) - ref[i]) / (std::fabs(ref[i]) + floor * scale + 1e-300));
  }
  return worst;
}

// Central differences in double: fd[i] = (L(p + h·e_i) − L(p − h·e_i)) / 2h.
DVec finite_differences(DVec& p, const std::function<double()>& loss) {
  DVec fd(p.size());
  for (size_t i = 0; i < p.size(); i++) {
    const double keep = p[i], h = 1e-4 * std::max(1.0, std::fabs(keep));
    p[i] = keep + h;
    const double up = loss();
    p[i] = keep - h;
    const double down = loss();
    p[i] = keep;
    fd[i] = (up - down) / (2 * h);
  }
  return fd;
}

double dot(const DVec& a, const DVec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); i++) s += a[i] * b[i];
  return s;
}

// Runs `f` on 1 and on 2 threads; returns whether both gave the same bits of `out`.
bool same_on_1_and_2_threads(const std::function<Vec()>& f) {
  pwtest::SettingsGuard guard;
  pw::set_threads(1);
  const Vec one = f();
  pw::set_threads(2);
  const Vec two = f();
  return same_bits(one, two);
}

// ---------------------------------------------------------------- double references

double gelu_ref(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

// y; and in `mag`, when given, |xhat·w| + |b|: the size of the terms of y's last sum.
DVec layernorm_ref(const DVec& x, const DVec& w, const DVec& b, int N, int C, double eps, DVec* mag = nullptr) {
  DVec y(x.size());
  if (mag) mag->assign(x.size(), 0.0);
  for (int r = 0; r < N; r++) {
    double mean = 0, var = 0;
    for (int c = 0; c < C; c++) mean += x[size_t(r) * C + c];
    mean /= C;
    for (int c = 0; c < C; c++) var += (x[size_t(r) * C + c] - mean) * (x[size_t(r) * C + c] - mean);
    var /= C;
    const double rstd = 1.0 / std::sqrt(var + eps);
    for (int c = 0; c < C; c++) {
      const double xw = (x[size_t(r) * C + c] - mean) * rstd * w[c];
      y[size_t(r) * C + c] = xw + b[c];
      if (mag) (*mag)[size_t(r) * C + c] = std::fabs(xw) + std::fabs(b[c]);
    }
  }
  return y;
}

// out (B,T,C) and att (B,H,T,T) of causal attention over qkv (B,T,3C).
void attention_ref(const DVec& qkv, int B, int T, int C, int H, DVec& out, DVec& att) {
  const int d = C / H;
  const double scale = 1.0 / std::sqrt(double(d));
  out.assign(size_t(B) * T * C, 0.0);
  att.assign(size_t(B) * H * T * T, 0.0);
  auto at = [&](int b, int t, int part, int h, int i) { return qkv[(size_t(b) * T + t) * 3 * C + part * C + h * d + i]; };
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++)
      for (int t = 0; t < T; t++) {
        DVec s(t + 1);
        double mx = -1e300, sum = 0;
        for (int t2 = 0; t2 <= t; t2++) {
          for (int i = 0; i < d; i++) s[t2] += at(b, t, 0, h, i) * at(b, t2, 1, h, i);
          s[t2] *= scale;
          mx = std::max(mx, s[t2]);
        }
        for (int t2 = 0; t2 <= t; t2++) sum += s[t2] = std::exp(s[t2] - mx);
        for (int t2 = 0; t2 <= t; t2++) {
          const double p = s[t2] / sum;
          att[((size_t(b) * H + h) * T + t) * T + t2] = p;
          for (int i = 0; i < d; i++) out[(size_t(b) * T + t) * C + h * d + i] += p * at(b, t2, 2, h, i);
        }
      }
}

// ---------------------------------------------------------------- float replicas of the documented orders

// LayerNorm forward, one row at a time, exactly as transformer.hpp states it.
void layernorm_replica(const Vec& x, const Vec& w, const Vec& b, int N, int C, float eps, Vec& y, Vec& mean, Vec& rstd) {
  y.assign(x.size(), 0.0f);
  mean.assign(N, 0.0f);
  rstd.assign(N, 0.0f);
  for (int r = 0; r < N; r++) {
    const float* xr = x.data() + size_t(r) * C;
    float s = 0.0f;
    for (int c = 0; c < C; c++) s = s + xr[c];
    const float m = s / float(C);
    float q = 0.0f;
    for (int c = 0; c < C; c++) q = std::fma(xr[c] - m, xr[c] - m, q);
    const float rs = 1.0f / std::sqrt(q / float(C) + eps);
    for (int c = 0; c < C; c++) y[size_t(r) * C + c] = ((xr[c] - m) * rs) * w[c] + b[c];
    mean[r] = m;
    rstd[r] = rs;
  }
}

void layernorm_backward_replica(const Vec& dy, const Vec& x, const Vec& w, const Vec& mean, const Vec& rstd, int N,
                                int C, Vec& dx, Vec& dw, Vec& db) {
  dx.assign(x.size(), 0.0f);
  dw.assign(C, 0.0f);
  db.assign(C, 0.0f);
  auto xhat = [&](int r, int c) { return (x[size_t(r) * C + c] - mean[r]) * rstd[r]; };
  for (int r = 0; r < N; r++) {
    float a = 0.0f, q = 0.0f;
    for (int c = 0; c < C; c++) {
      a = a + dy[size_t(r) * C + c] * w[c];
      q = std::fma(dy[size_t(r) * C + c] * w[c], xhat(r, c), q);
    }
    const float m1 = a / float(C), m2 = q / float(C);
    for (int c = 0; c < C; c++)
      dx[size_t(r) * C + c] = rstd[r] * ((dy[size_t(r) * C + c] * w[c] - m1) - xhat(r, c) * m2);
  }
  for (int c = 0; c < C; c++)
    for (int r = 0; r < N; r++) {
      dw[c] = std::fma(dy[size_t(r) * C + c], xhat(r, c), dw[c]);
      db[c] = db[c] + dy[size_t(r) * C + c];
    }
}

struct AttentionShape {
  int B, T, C, H;
  int d() const { return C / H; }
  size_t qkv_size() const { return size_t(B) * T * 3 * C; }
  size_t out_size() const { return size_t(B) * T * C; }
  size_t att_size() const { return size_t(B) * H * T * T; }
};

void attention_replica(const Vec& qkv, const AttentionShape& s, Vec& out, Vec& att) {
  const int d = s.d(), T = s.T, C = s.C;
  const float scale = float(1.0 / std::sqrt(double(d)));
  out.assign(s.out_size(), 0.0f);
  att.assign(s.att_size(), 0.0f);
  auto at = [&](int b, int t, int part, int h, int i) { return qkv[(size_t(b) * T + t) * 3 * C + part * C + h * d + i]; };
  for (int b = 0; b < s.B; b++)
    for (int h = 0; h < s.H; h++)
      for (int t = 0; t < T; t++) {
        Vec e(t + 1);
        for (int t2 = 0; t2 <= t; t2++) {
          float acc = 0.0f;
          for (int i = 0; i < d; i++) acc = std::fma(at(b, t, 0, h, i), at(b, t2, 1, h, i), acc);
          e[t2] = acc * scale;
        }
        float mx = e[0];
        for (int t2 = 1; t2 <= t; t2++) mx = std::max(mx, e[t2]);
        float sum = 0.0f;
        for (int t2 = 0; t2 <= t; t2++) sum = sum + (e[t2] = pw::exp_f32(e[t2] - mx));
        float* p = att.data() + ((size_t(b) * s.H + h) * T + t) * T;
        for (int t2 = 0; t2 <= t; t2++) p[t2] = e[t2] / sum;
        for (int i = 0; i < d; i++) {
          float acc = 0.0f;
          for (int t2 = 0; t2 <= t; t2++) acc = std::fma(p[t2], at(b, t2, 2, h, i), acc);
          out[(size_t(b) * T + t) * C + h * d + i] = acc;
        }
      }
}

Vec attention_backward_replica(const Vec& dout, const Vec& qkv, const Vec& att, const AttentionShape& s) {
  const int d = s.d(), T = s.T, C = s.C;
  const float scale = float(1.0 / std::sqrt(double(d)));
  Vec dqkv(s.qkv_size(), 0.0f);
  auto idx = [&](int b, int t, int part, int h, int i) { return (size_t(b) * T + t) * 3 * C + part * C + h * d + i; };
  for (int b = 0; b < s.B; b++)
    for (int h = 0; h < s.H; h++) {
      const float* P = att.data() + (size_t(b) * s.H + h) * T * T;
      auto dO = [&](int t, int i) { return dout[(size_t(b) * T + t) * C + h * d + i]; };
      Vec ds(size_t(T) * T, 0.0f);  // ds·scale
      for (int t = 0; t < T; t++) {
        Vec dp(t + 1);
        for (int t2 = 0; t2 <= t; t2++) {
          float acc = 0.0f;
          for (int i = 0; i < d; i++) acc = std::fma(dO(t, i), qkv[idx(b, t2, 2, h, i)], acc);
          dp[t2] = acc;
        }
        float pdp = 0.0f;
        for (int t3 = 0; t3 <= t; t3++) pdp = std::fma(P[t * T + t3], dp[t3], pdp);
        for (int t2 = 0; t2 <= t; t2++) ds[size_t(t) * T + t2] = (P[t * T + t2] * (dp[t2] - pdp)) * scale;
      }
      for (int t = 0; t < T; t++)
        for (int i = 0; i < d; i++) {
          float acc = 0.0f;
          for (int t2 = 0; t2 <= t; t2++) acc = std::fma(ds[size_t(t) * T + t2], qkv[idx(b, t2, 1, h, i)], acc);
          dqkv[idx(b, t, 0, h, i)] = acc;
        }
      for (int t2 = 0; t2 < T; t2++)
        for (int i = 0; i < d; i++) {
          float dk = 0.0f, dv = 0.0f;
          for (int t = t2; t < T; t++) {
            dk = std::fma(ds[size_t(t) * T + t2], qkv[idx(b, t, 0, h, i)], dk);
            dv = std::fma(P[t * T + t2], dO(t, i), dv);
          }
          dqkv[idx(b, t2, 1, h, i)] = dk;
          dqkv[idx(b, t2, 2, h, i)] = dv;
        }
    }
  return dqkv;
}

// Token ids (as floats) in [0, V), some repeated.
Vec random_tokens(TestRng& rng, size_t n, int V) {
  Vec t(n);
  for (auto& x : t) x = float(rng.next() % uint32_t(V));
  return t;
}

}  // namespace

// ---------------------------------------------------------------- tanh_f32

TEST_CASE("tanh_f32 is within 2 ulp of tanh in double") {
  double worst = 0;
  float worst_x = 0;
  bool odd_bits = true;  // tanh(−x) = −tanh(x) bit for bit
  auto probe = [&](float x) {
    const double e = ulp_error(pw::tanh_f32(x), std::tanh(double(x)));
    if (e > worst) worst = e, worst_x = x;
    const float minus = -pw::tanh_f32(x), odd = pw::tanh_f32(-x);
    if (std::memcmp(&minus, &odd, 4) != 0) odd_bits = false;
  };
  // Every float from 0.5 to 0.6 (the switch between the two forms at 0.55), a dense
  // sweep of [0, 12], and log-spaced small arguments.
  for (float x = 0.5f; x < 0.6f; x = std::nextafter(x, 1.0f)) probe(x);
  const int n = 2000000;
  for (int i = 0; i <= n; i++) probe(float(12.0 * double(i) / n));
  for (int i = 0; i < 20000; i++) probe(float(std::ldexp(1.0, -40 + i / 500) * (1.0 + (i % 500) / 500.0)));
  MESSAGE("tanh_f32: max error " << worst << " ulp at x = " << worst_x);
  CHECK(worst <= 2.0);
  CHECK(odd_bits);
}

TEST_CASE("tanh_f32 special values") {
  CHECK(std::isnan(pw::tanh_f32(NAN)));
  CHECK(pw::tanh_f32(INFINITY) == 1.0f);
  CHECK(pw::tanh_f32(-INFINITY) == -1.0f);
  CHECK(pw::tanh_f32(FLT_MAX) == 1.0f);
  CHECK(pw::tanh_f32(20.0f) == 1.0f);
  CHECK(pw::tanh_f32(9.5f) == 1.0f);
  CHECK(pw::tanh_f32(0.0f) == 0.0f);
  CHECK(std::signbit(pw::tanh_f32(-0.0f)));
  CHECK(pw::tanh_f32(1e-30f) == 1e-30f);
  CHECK(pw::tanh_f32(FLT_TRUE_MIN) == FLT_TRUE_MIN);
}

// ---------------------------------------------------------------- GELU, add, scale

// For x << 0, GELU = 0.5·x·(1 + tanh(·)) with tanh near −1: 1 + tanh cancels, in fp32 as
// in torch, leaving an absolute error of about |x| ulps of 1 (and, in the derivative,
// 1 − u² adds about |x|³ of them). So: 1e-5 relative plus that floor, at 2^-23 per unit.
TEST_CASE("gelu forward agrees with a double reference and backward with finite differences") {
  TestRng rng(1);
  Vec x = random_vec(rng, 4000, -6.0f, 6.0f);
  x.push_back(0.0f);
  const double unit = std::ldexp(1.0, -23);
  Vec y(x.size());
  pw::gelu_forward(x.data(), y.data(), int64_t(x.size()));
  double fwd = 0, fwd_positive = 0;  // worst error over the allowed; worst relative error for x >= -2
  for (size_t i = 0; i < x.size(); i++) {
    const double ref = gelu_ref(x[i]), err = std::fabs(double(y[i]) - ref);
    fwd = std::max(fwd, err / (1e-5 * std::fabs(ref) + std::fabs(x[i]) * unit + 1e-300));
    if (x[i] >= -2.0f && ref != 0) fwd_positive = std::max(fwd_positive, err / std::fabs(ref));
  }
  MESSAGE("gelu forward: worst error " << fwd << " of the allowed; relative error " << fwd_positive << " for x >= -2");
  CHECK(fwd <= 1.0);
  CHECK(fwd_positive <= 1e-5);

  const Vec dy = random_vec(rng, x.size(), -1.0f, 1.0f);
  Vec dx(x.size());
  pw::gelu_backward(dy.data(), x.data(), dx.data(), int64_t(x.size()));
  double bwd = 0, bwd_positive = 0;
  for (size_t i = 0; i < x.size(); i++) {
    DVec one{double(x[i])};  // d/dx of dy·gelu(x), in double
    const double fd = finite_differences(one, [&] { return double(dy[i]) * gelu_ref(one[0]); })[0];
    const double err = std::fabs(double(dx[i]) - fd), ax = std::fabs(x[i]);
    bwd = std::max(bwd, err / (1e-5 * std::fabs(fd) + std::fabs(dy[i]) * (1 + ax * ax * ax) * unit + 1e-300));
    if (x[i] >= 0.0f) bwd_positive = std::max(bwd_positive, err / std::fabs(fd));  // GELU' >= 0.5 there
  }
  MESSAGE("gelu backward: worst error " << bwd << " of the allowed; relative error " << bwd_positive
                                        << " for x >= 0");
  CHECK(bwd <= 1.0);
  CHECK(bwd_positive <= 1e-5);
  CHECK(pw::gelu_grad_elem(0.0f, 1.0f) == 0.5f);
  CHECK(pw::gelu_elem(0.0f) == 0.0f);
  CHECK(pw::gelu_elem(10.0f) == 10.0f);
  CHECK(pw::gelu_elem(-10.0f) == 0.0f);
}

TEST_CASE("add, scale_inplace and sum_squares") {
  TestRng rng(2);
  const int64_t n = 9 * pw::kSumSquaresBlock + 123;  // a group of 8 full blocks, one more, a tail
  Vec a = random_vec(rng, size_t(n), -2.0f, 2.0f), b = random_vec(rng, size_t(n), -2.0f, 2.0f), out(a.size());
  pw::add_forward(a.data(), b.data(), out.data(), n);
  for (int64_t i = 0; i < n; i++) REQUIRE(out[i] == a[i] + b[i]);

  // sum_squares: the documented order (blocks of 4096, each an fma chain from zero,
  // partials added ascending), and close to the double sum.
  float replica = 0.0f;
  double exact = 0;
  for (int64_t blk = 0; blk * pw::kSumSquaresBlock < n; blk++) {
    float acc = 0.0f;
    for (int64_t i = blk * pw::kSumSquaresBlock; i < std::min(n, (blk + 1) * pw::kSumSquaresBlock); i++)
      acc = std::fma(a[i], a[i], acc);
    replica = replica + acc;
  }
  for (float v : a) exact += double(v) * v;
  const float got = pw::sum_squares(a.data(), n);
  CHECK(std::memcmp(&got, &replica, 4) == 0);
  CHECK(std::fabs(got - exact) <= 1e-5 * exact);
  CHECK(pw::sum_squares(a.data(), 0) == 0.0f);
  CHECK(pw::sum_squares(a.data(), 1) == a[0] * a[0]);
  CHECK(same_on_1_and_2_threads([&] { return Vec{pw::sum_squares(a.data(), n)}; }));

  Vec g = a;
  pw::scale_inplace(g.data(), n, 0.375f);
  for (int64_t i = 0; i < n; i++) REQUIRE(g[i] == a[i] * 0.375f);
}

// ---------------------------------------------------------------- embedding

TEST_CASE("embedding forward and backward") {
  TestRng rng(3);
  const int B = 3, T = 5, C = 6, V = 7, Tmax = 8;
  const Vec tokens = random_tokens(rng, size_t(B) * T, V - 1);  // id V-1 never occurs
  const Vec wte = random_vec(rng, size_t(V) * C, -1.0f, 1.0f), wpe = random_vec(rng, size_t(Tmax) * C, -1.0f, 1.0f);
  Vec out(size_t(B) * T * C);
  pw::embedding_forward(tokens.data(), wte.data(), wpe.data(), out.data(), B, T, C);
  for (int r = 0; r < B * T; r++)
    for (int c = 0; c < C; c++)
      REQUIRE(out[size_t(r) * C + c] == wte[size_t(tokens[r]) * C + c] + wpe[size_t(r % T) * C + c]);

  const Vec dout = random_vec(rng, out.size(), -1.0f, 1.0f);
  // dwte holds the LM head's gradient already; dwpe holds garbage (it is written).
  const Vec head = random_vec(rng, wte.size(), -1.0f, 1.0f);
  Vec dwte = head, dwpe(size_t(Tmax) * C, 7.0f);
  pw::embedding_backward(tokens.data(), dout.data(), dwte.data(), dwpe.data(), B, T, C, V, Tmax);

  // The documented order: S[v] a chain from zero over rows ascending, added once.
  for (int v = 0; v < V; v++) {
    bool seen = false;
    Vec s(C, 0.0f);
    for (int r = 0; r < B * T; r++)
      if (int(tokens[r]) == v) {
        seen = true;
        for (int c = 0; c < C; c++) s[c] = s[c] + dout[size_t(r) * C + c];
      }
    for (int c = 0; c < C; c++) {
      const float want = seen ? head[size_t(v) * C + c] + s[c] : head[size_t(v) * C + c];
      REQUIRE(std::memcmp(&dwte[size_t(v) * C + c], &want, 4) == 0);
    }
  }
  for (int t = 0; t < Tmax; t++)
    for (int c = 0; c < C; c++) {
      float want = 0.0f;
      if (t < T)
        for (int b = 0; b < B; b++) want = want + dout[(size_t(b) * T + t) * C + c];
      REQUIRE(std::memcmp(&dwpe[size_t(t) * C + c], &want, 4) == 0);
    }

  // Against finite differences of L = Σ dout·out in double (the head's part removed).
  DVec pte = to_double(wte), ppe = to_double(wpe);
  auto loss = [&] {
    double L = 0;
    for (int r = 0; r < B * T; r++)
      for (int c = 0; c < C; c++)
        L += double(dout[size_t(r) * C + c]) * (pte[size_t(tokens[r]) * C + c] + ppe[size_t(r % T) * C + c]);
    return L;
  };
  const DVec fd_te = finite_differences(pte, loss), fd_pe = finite_differences(ppe, loss);
  Vec contribution(dwte.size());
  for (size_t i = 0; i < dwte.size(); i++) contribution[i] = dwte[i] - head[i];
  CHECK(rel_error(contribution, fd_te) <= 1e-5);
  CHECK(rel_error(dwpe, fd_pe) <= 1e-5);
}

TEST_CASE("embedding_backward refuses a token id outside the vocabulary") {
  const int B = 1, T = 2, C = 2, V = 4;
  const Vec dout(4, 1.0f);
  Vec dwte(size_t(V) * C, 0.0f), dwpe(size_t(T) * C);
  for (float bad : {4.0f, -1.0f, 1.5f, float(NAN)}) {
    const Vec tokens{0.0f, bad};
    CHECK(pwtest::error_code_of([&] {
            pw::embedding_backward(tokens.data(), dout.data(), dwte.data(), dwpe.data(), B, T, C, V, T);
          }) == pw::kExitInternal);
  }
}

// ---------------------------------------------------------------- LayerNorm

TEST_CASE("layernorm forward agrees with a double reference and follows the documented order") {
  TestRng rng(4);
  const int N = 13, C = 24;  // N not a multiple of the kernel's row group
  const float eps = 1e-5f;
  Vec x = random_vec(rng, size_t(N) * C, -2.0f, 3.0f);
  for (int c = 0; c < C; c++) x[c] = 1.0f + 1e-3f * float(c);  // a row of small variance
  const Vec w = random_vec(rng, C, 0.5f, 1.5f), b = random_vec(rng, C, -0.5f, 0.5f);
  Vec y(x.size()), mean(N), rstd(N);
  pw::layernorm_forward(x.data(), w.data(), b.data(), y.data(), mean.data(), rstd.data(), N, C, eps);
  DVec mag;
  const DVec ref = layernorm_ref(to_double(x), to_double(w), to_double(b), N, C, eps, &mag);
  // Relative to the terms of the last sum, xhat·w + b (where they cancel, y's own relative
  // error means nothing). Row 0's deviations from its mean are 1e-3 of its values: x − mean
  // cancels (in torch too), so that row gets 1e-4.
  double err = 0, err0 = 0;
  for (size_t i = 0; i < y.size(); i++) {
    const double e = std::fabs(double(y[i]) - ref[i]) / mag[i];
    (i < size_t(C) ? err0 : err) = std::max(i < size_t(C) ? err0 : err, e);
  }
  MESSAGE("layernorm forward: max relative error " << err << ", " << err0 << " on the row of small variance");
  CHECK(err <= 1e-5);
  CHECK(err0 <= 1e-4);
  Vec ry, rm, rr;
  layernorm_replica(x, w, b, N, C, eps, ry, rm, rr);
  CHECK(same_bits(y, ry));
  CHECK(same_bits(mean, rm));
  CHECK(same_bits(rstd, rr));
}

TEST_CASE("layernorm backward agrees with finite differences and follows the documented order") {
  TestRng rng(5);
  const int N = 11, C = 10;
  const float eps = 1e-5f;
  const Vec x = random_vec(rng, size_t(N) * C, -2.0f, 2.0f);
  const Vec w = random_vec(rng, C, 0.5f, 1.5f), b = random_vec(rng, C, -0.5f, 0.5f);
  const Vec dy = random_vec(rng, x.size(), -1.0f, 1.0f);
  Vec y(x.size()), mean(N), rstd(N), dx(x.size()), dw(C, 9.0f), db(C, 9.0f);
  pw::layernorm_forward(x.data(), w.data(), b.data(), y.data(), mean.data(), rstd.data(), N, C, eps);
  pw::layernorm_backward(dy.data(), x.data(), w.data(), mean.data(), rstd.data(), dx.data(), dw.data(), db.data(),
                         N, C);
  DVec px = to_double(x), pw_ = to_double(w), pb = to_double(b);
  const DVec dyd = to_double(dy);
  auto loss = [&] { return dot(dyd, layernorm_ref(px, pw_, pb, N, C, eps)); };
  const double ex = rel_error(dx, finite_differences(px, loss)), ew = rel_error(dw, finite_differences(pw_, loss)),
               eb = rel_error(db, finite_differences(pb, loss));
  MESSAGE("layernorm backward: max relative error dx " << ex << ", dw " << ew << ", db " << eb);
  CHECK(ex <= 1e-4);
  CHECK(ew <= 1e-5);
  CHECK(eb <= 1e-5);
  Vec rdx, rdw, rdb;
  layernorm_backward_replica(dy, x, w, mean, rstd, N, C, rdx, rdw, rdb);
  CHECK(same_bits(dx, rdx));
  CHECK(same_bits(dw, rdw));
  CHECK(same_bits(db, rdb));
}

// ---------------------------------------------------------------- attention

TEST_CASE("attention forward agrees with a double reference and follows the documented order") {
  TestRng rng(6);
  const AttentionShape s{2, 7, 12, 3};
  const Vec qkv = random_vec(rng, s.qkv_size(), -1.5f, 1.5f);
  Vec out(s.out_size()), att(s.att_size(), 5.0f);
  pw::attention_forward(qkv.data(), out.data(), att.data(), s.B, s.T, s.C, s.H);
  DVec rout, ratt;
  attention_ref(to_double(qkv), s.B, s.T, s.C, s.H, rout, ratt);
  const double eo = rel_error(out, rout), ea = rel_error(att, ratt, 0.0);
  MESSAGE("attention forward: max relative error out " << eo << ", att " << ea);
  CHECK(eo <= 1e-5);
  CHECK(ea <= 1e-5);
  Vec fout, fatt;
  attention_replica(qkv, s, fout, fatt);
  CHECK(same_bits(out, fout));
  CHECK(same_bits(att, fatt));  // including the zeros above the diagonal
}

TEST_CASE("attention backward agrees with finite differences and follows the documented order") {
  TestRng rng(7);
  const AttentionShape s{2, 5, 8, 2};
  const Vec qkv = random_vec(rng, s.qkv_size(), -1.5f, 1.5f);
  const Vec dout = random_vec(rng, s.out_size(), -1.0f, 1.0f);
  Vec out(s.out_size()), att(s.att_size()), dqkv(s.qkv_size(), 9.0f);
  pw::attention_forward(qkv.data(), out.data(), att.data(), s.B, s.T, s.C, s.H);
  pw::attention_backward(dout.data(), qkv.data(), att.data(), dqkv.data(), s.B, s.T, s.C, s.H);
  DVec p = to_double(qkv);
  const DVec dd = to_double(dout);
  auto loss = [&] {
    DVec o, a;
    attention_ref(p, s.B, s.T, s.C, s.H, o, a);
    return dot(dd, o);
  };
  const double e = rel_error(dqkv, finite_differences(p, loss));
  MESSAGE("attention backward: max relative error " << e);
  CHECK(e <= 1e-4);
  CHECK(same_bits(dqkv, attention_backward_replica(dout, qkv, att, s)));
}

TEST_CASE("attention is causal: a later position changes no earlier output") {
  TestRng rng(8);
  const AttentionShape s{1, 9, 8, 2};
  const Vec qkv = random_vec(rng, s.qkv_size(), -1.5f, 1.5f);
  Vec out(s.out_size()), att(s.att_size());
  pw::attention_forward(qkv.data(), out.data(), att.data(), s.B, s.T, s.C, s.H);
  for (int later = 1; later < s.T; later++) {
    Vec changed = qkv;
    for (int j = 0; j < 3 * s.C; j++) changed[size_t(later) * 3 * s.C + j] += 0.75f;  // its q, k and v
    Vec out2(s.out_size()), att2(s.att_size());
    pw::attention_forward(changed.data(), out2.data(), att2.data(), s.B, s.T, s.C, s.H);
    const size_t before = size_t(later) * s.C;
    CHECK(std::memcmp(out.data(), out2.data(), before * sizeof(float)) == 0);
    CHECK(std::memcmp(out.data() + before, out2.data() + before, size_t(s.C) * sizeof(float)) != 0);
    for (int h = 0; h < s.H; h++)
      CHECK(std::memcmp(att.data() + size_t(h) * s.T * s.T, att2.data() + size_t(h) * s.T * s.T,
                        size_t(later) * s.T * sizeof(float)) == 0);
  }
  // Position 0 attends only to itself: p = 1 and out = its v.
  for (int h = 0; h < s.H; h++) CHECK(att[size_t(h) * s.T * s.T] == 1.0f);
  for (int i = 0; i < s.C; i++) CHECK(out[i] == qkv[2 * s.C + i]);
}

// ---------------------------------------------------------------- threads

TEST_CASE("every transformer kernel gives the same bits on 1 and 2 threads") {
  TestRng rng(9);
  // Sizes above the kernels' parallel thresholds, with ragged edges.
  const int64_t n = 40001;
  const Vec x = random_vec(rng, size_t(n), -4.0f, 4.0f), dy = random_vec(rng, size_t(n), -1.0f, 1.0f);
  CHECK(same_on_1_and_2_threads([&] {
    Vec y(x.size()), dx(x.size());
    pw::gelu_forward(x.data(), y.data(), n);
    pw::gelu_backward(dy.data(), x.data(), dx.data(), n);
    y.insert(y.end(), dx.begin(), dx.end());
    return y;
  }));

  const int B = 4, T = 64, C = 160, V = 256, Tmax = 80;
  const Vec tokens = random_tokens(rng, size_t(B) * T, 40);  // many repeats
  const Vec wte = random_vec(rng, size_t(V) * C, -1.0f, 1.0f), wpe = random_vec(rng, size_t(Tmax) * C, -1.0f, 1.0f);
  const Vec demb = random_vec(rng, size_t(B) * T * C, -1.0f, 1.0f);
  CHECK(same_on_1_and_2_threads([&] {
    Vec out(size_t(B) * T * C), dwte = wte, dwpe(size_t(Tmax) * C);
    pw::embedding_forward(tokens.data(), wte.data(), wpe.data(), out.data(), B, T, C);
    pw::embedding_backward(tokens.data(), demb.data(), dwte.data(), dwpe.data(), B, T, C, V, Tmax);
    out.insert(out.end(), dwte.begin(), dwte.end());
    out.insert(out.end(), dwpe.begin(), dwpe.end());
    return out;
  }));

  const int N = 259;
  const Vec lx = random_vec(rng, size_t(N) * C, -2.0f, 2.0f), ldy = random_vec(rng, size_t(N) * C, -1.0f, 1.0f);
  const Vec w = random_vec(rng, C, 0.5f, 1.5f), b = random_vec(rng, C, -0.5f, 0.5f);
  CHECK(same_on_1_and_2_threads([&] {
    Vec y(lx.size()), mean(N), rstd(N), dx(lx.size()), dw(C), db(C);
    pw::layernorm_forward(lx.data(), w.data(), b.data(), y.data(), mean.data(), rstd.data(), N, C, 1e-5f);
    pw::layernorm_backward(ldy.data(), lx.data(), w.data(), mean.data(), rstd.data(), dx.data(), dw.data(),
                           db.data(), N, C);
    for (const Vec* v : {&mean, &rstd, &dx, &dw, &db}) y.insert(y.end(), v->begin(), v->end());
    return y;
  }));

  const AttentionShape s{2, 64, 64, 4};
  const Vec qkv = random_vec(rng, s.qkv_size(), -1.5f, 1.5f), dout = random_vec(rng, s.out_size(), -1.0f, 1.0f);
  CHECK(same_on_1_and_2_threads([&] {
    Vec out(s.out_size()), att(s.att_size()), dqkv(s.qkv_size());
    pw::attention_forward(qkv.data(), out.data(), att.data(), s.B, s.T, s.C, s.H);
    pw::attention_backward(dout.data(), qkv.data(), att.data(), dqkv.data(), s.B, s.T, s.C, s.H);
    out.insert(out.end(), att.begin(), att.end());
    out.insert(out.end(), dqkv.begin(), dqkv.end());
    return out;
  }));
}
