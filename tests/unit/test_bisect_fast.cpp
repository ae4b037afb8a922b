// The fast-mode referee (proofwork(7), DISPUTES): an op recomputed under each side's
// declared kernel gives that side's bits, the profile's sources give the op's noise, and
// a claim is held to factor x noise + floor: within stands, beyond loses.
#include <doctest/doctest.h>

#include <cmath>

#include "bisect/fast.hpp"
#include "io/message.hpp"
#include "unit_helpers.hpp"

using namespace pw;

namespace {

// A profile with these sources and the default rule's factor and floor.
LoadedProfile make_profile(const std::vector<std::string>& sources) {
  capnp::MallocMessageBuilder mb;
  auto p = mb.initRoot<schema::Profile>();
  p.setFormatVersion(2);
  p.setTaskClass(as_data(pwtest::filled_hash(1)));
  p.setFactor(8);
  p.setFloorRel(1.0 / (1 << 20));
  p.setThresholdRule(schema::ThresholdRule::OBSERVED);
  p.setAlignmentMax(0.5);
  Distances t;
  t.names = {"model"};
  for (auto& v : t.value) v = {1e-3};
  write_distances(p.initThresholds(), t);
  auto s = p.initSources(unsigned(sources.size()));
  for (size_t i = 0; i < sources.size(); i++) s.set(unsigned(i), sources[i]);
  return parse_profile(to_binary(mb), "test");
}

}  // namespace

TEST_CASE("fast referee: a profile's source names read back as the settings they name") {
  for (Source s : {Source{true, 2, 64}, Source{true, 1, 256}, Source{false, 1, 0}, Source{true, 0, 0, true},
                   Source{false, 0, 0, true}}) {
    const std::optional<Source> r = parse_source(s.name());
    REQUIRE(r.has_value());
    CHECK(r->name() == s.name());
  }
  for (const char* bad : {"", "fast", "fast threads=0 panel=64", "fast threads=2 panel=64 extra", "exactly"})
    CHECK_FALSE(parse_source(bad).has_value());
}

TEST_CASE("fast referee: distances over any tensors, with an infinite one for a missing tensor") {
  const Distances d = tensor_distances({"x", "y"}, {{1, 2}, {3}}, {{1, 2}, {5}});
  REQUIRE(d.size() == 3);
  CHECK(d.names.back() == "all");
  CHECK(d.value[kL1][0] == 0);
  CHECK(d.value[kLinf][1] == 2);
  CHECK(d.value[kL1][2] == 2);
  const Distances m = tensor_distances({"x", "y"}, {{1, 2}}, {{1, 2}, {5}});
  CHECK(std::isinf(m.value[kLinf][1]));
  CHECK_FALSE(exceeds(m, d).empty());  // infinitely far exceeds any finite threshold
}

TEST_CASE("fast referee: each side within its kernel's recomputation stands, a perturbed claim loses") {
  const Dataset d = pwtest::tiny_dataset();
  const TaskConfig c = pwtest::tiny_config(OptimizerType::Sgd, false);
  Trainer tr(c, d);
  // Op 1 is the first linear_forward (784 terms: its bits depend on the panel).
  REQUIRE(tr.tape.ops[1].kind == OpKind::LinearForward);
  std::vector<std::vector<float>> inputs;
  Workspace ws = tr.ws;
  trace_step(tr, ws, 0, nullptr, 1, &inputs);
  const LoadedProfile prof = make_profile({"fast threads=1 panel=32", "fast threads=1 panel=256", "exact", "cuda fast"});
  FastReferee f{&prof, Kernel{64, 1}, Kernel{256, 1}};
  auto run = [&](const Kernel& k) {
    std::vector<std::vector<float>> out;
    const Compute cp = k.compute(c);
    referee_op(c, &d, 0, 1, inputs, &out, &cp);
    return out;
  };
  const auto a = run(f.a), b = run(f.b);
  CHECK(a != b);  // other panels, other bits
  Hash referee{};
  FastRuling r = rule_fast_op(c, &d, f, 0, 1, inputs, a, b, &referee);
  CHECK(r.sources == 3);  // the GPU source cannot be recomputed on the CPU
  CHECK(r.noise.value[kLinf].back() > 0);
  CHECK(r.stands_a);
  CHECK(r.stands_b);
  CHECK(r.ruling() == Ruling::Both);
  CHECK(r.dist_ab.value[kLinf].back() > 0);
  CHECK(exceeds(r.dist_ab, r.thresholds).empty());  // the two kernels differ by noise only
  // A claim off by far more than the noise loses; the other side's stands.
  auto bad = b;
  bad[0][5] += 0.25f;
  r = rule_fast_op(c, &d, f, 0, 1, inputs, a, bad, &referee);
  CHECK(r.stands_a);
  CHECK_FALSE(r.stands_b);
  CHECK(r.ruling() == Ruling::A);
  CHECK(r.why_b.find("> threshold") != std::string::npos);
  const std::string basis = fast_basis(r, f, "op 1");
  CHECK(basis.find("B loses, beyond it") != std::string::npos);
  CHECK(basis.find("A: fast threads=1 panel=64") != std::string::npos);
  // A claim under another panel than its side declared is within the noise: it stands.
  r = rule_fast_op(c, &d, f, 0, 1, inputs, b, b, &referee);
  CHECK(r.stands_a);
}

TEST_CASE("fast referee: a manifest's kernel, its panel the default where not recorded") {
  Manifest m;
  m.threads = 3;
  CHECK(declared_kernel(m).panel == kFastPanelDefault);  // a proof from before manifests recorded it
  CHECK(declared_kernel(m).threads == 3);
  m.fast_panel = 64, m.threads = 0;
  CHECK(declared_kernel(m).panel == 64);
  CHECK(declared_kernel(m).threads == 1);
  CHECK(declared_kernel(m).name() == "fast threads=1 panel=64");
  CHECK(parse_source(declared_kernel(m).name()).has_value());  // a kernel is named as a profile's source
}
