// pol-plot's layout: ticks that never overlap, log scales by decades, lines of a bounded
// number of points, and figures that refuse a size too small for them.
#include <algorithm>
#include <cmath>
#include <string>

#include "plot/plot.hpp"
#include "plot/render.hpp"
#include "plot/svg.hpp"
#include "unit_helpers.hpp"

using namespace pw::plot;
using pwtest::error_code_of;

namespace {

Scale axis(double lo, double hi, bool log, double px0, double px1) {
  Scale s;
  s.lo = lo, s.hi = hi, s.log = log, s.px0 = px0, s.px1 = px1;
  return s;
}

// Labels in order along the axis, kLabelGap apart, inside the axis's overhang.
void check_apart(const std::vector<Tick>& ticks) {
  for (size_t i = 1; i < ticks.size(); i++) {
    CAPTURE(ticks[i - 1].label);
    CAPTURE(ticks[i].label);
    CHECK(ticks[i].from >= ticks[i - 1].to + kLabelGap);
    CHECK(ticks[i].label != ticks[i - 1].label);
  }
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) n++;
  return n;
}

}  // namespace

TEST_CASE("plot: x ticks of 10,000 steps and 1,000 segments never overlap, at any width") {
  for (double width : {250.0, 320.0, 600.0, 880.0, 2000.0}) {
    for (auto [lo, hi] : {std::pair{0.0, 10000.0}, std::pair{-0.5, 999.5}, std::pair{0.0, 1e9}, std::pair{0.0, 1.0}}) {
      CAPTURE(width);
      CAPTURE(hi);
      const auto t = axis_ticks(axis(lo, hi, false, 60, 60 + width), true, hi > 1);
      REQUIRE(t.size() >= 2);
      check_apart(t);
      for (const auto& k : t) CHECK((k.value == std::round(k.value) || hi <= 1));
    }
  }
  // 10,000 steps on 800 px: round numbers, and a dense axis still has a handful.
  const auto t = axis_ticks(axis(0, 10000, false, 0, 800), true, true);
  CHECK(t.size() >= 5);
  CHECK(std::fmod(t[1].value - t[0].value, 500) == 0);
}

TEST_CASE("plot: a log axis ticks whole decades, thinned when they crowd") {
  const auto wide = axis_ticks(axis(1e-16, 1e4, true, 300, 40), false);  // 20 decades on 260 px
  REQUIRE(wide.size() >= 3);
  check_apart(wide);
  for (const auto& k : wide) CHECK(std::fabs(std::log10(k.value) - std::round(std::log10(k.value))) < 1e-9);
  CHECK(wide.size() < 21);  // thinned
  CHECK(tick_label(1e-6, 0, true) == "1e-6");
  CHECK(tick_label(0.001, 0, true) == "0.001");
  CHECK(tick_label(1e12, 0, true) == "1e12");
  // Two decades: 1, 2, 5 in each.
  const auto narrow = axis_ticks(axis(0.1, 10, true, 300, 40), false);
  CHECK(std::any_of(narrow.begin(), narrow.end(), [](const Tick& k) { return k.label == "0.2"; }));
  // A fitted log range is whole decades around the values and 1.
  const Scale s = fit_range({3e-5, 0.2, 0.0, -1.0, NAN}, true, {1});
  CHECK(s.lo == doctest::Approx(1e-5));
  CHECK(s.hi == doctest::Approx(1));
  CHECK(tick_label(2500, 500, false) == "2500");
  CHECK(tick_label(0.25, 0.05, false) == "0.25");
  CHECK(tick_label(3e-9, 1e-9, false) == "3e-9");
}

TEST_CASE("plot: lines and dots keep a few points per pixel column, and the extremes") {
  std::vector<double> x, y;
  for (int i = 0; i < 10000; i++) x.push_back(i), y.push_back(std::sin(i * 0.37) + (i == 4321 ? 50 : 0));
  y[777] = NAN;  // breaks the line
  const Scale sx = axis(0, 10000, false, 0, 800), sy = axis(-2, 60, false, 400, 0);
  const auto runs = decimate_line(x, y, sx, sy);
  CHECK(runs.size() == 2);
  size_t n = 0;
  double top = 1e9;
  for (const auto& r : runs) {
    n += r.size();
    for (const auto& p : r) top = std::min(top, p.y);
  }
  CHECK(n <= 4 * 802);
  CHECK(top == doctest::Approx(sy.px(y[4321] )));  // the spike survives
  const auto spans = decimate_points(x, y, sx, sy);
  CHECK(spans.size() <= 801);
  CHECK(spans.size() >= 799);
}

TEST_CASE("plot: a 10,000-step proof figure is small, and a figure too small for its panels is refused") {
  ProofSeries p;
  p.name = "proof";
  p.root = std::string(64, 'a');
  p.steps = 10000;
  p.checkpoints = 1001;
  for (int i = 0; i < 10000; i++) p.losses.push_back(2.0f / float(1 + i)), p.lr.push_back(0.05);
  for (int i = 1; i <= 1000; i++) p.segment_end.push_back(10 * i), p.update_norm.push_back(1.0 / i);
  Figure f = proof_figure(p);
  CHECK(f.panels.size() == 3);
  const std::string svg = render_svg(f);
  CHECK(svg.find("width=\"960\" height=\"" + std::to_string(auto_height(f)) + "\"") != std::string::npos);
  CHECK(svg.size() < 400000);  // decimated: not 10,000 points a line
  CHECK(svg.find("the solver's claim") != std::string::npos);
  CHECK(svg.find("Merkle root aaaaaaaaaaaaaaaa") != std::string::npos);
  f.height = 300;
  CHECK(error_code_of([&] { render_svg(f); }) == pw::kExitUsage);
  // No losses recorded: said in the panel.
  p.losses.clear();
  const std::string old = render_svg(proof_figure(p));
  CHECK(old.find("records no losses") != std::string::npos);
  CHECK(count(old, "<polyline") >= 2);  // the learning rate and update norm still drawn
}

TEST_CASE("plot: text is escaped and PNG sizes are read from the header") {
  Figure f;
  f.title = "a <b> & \"c\"";
  f.panels.push_back({});
  const std::string svg = render_svg(f);
  CHECK(svg.find("a &lt;b&gt; &amp; &quot;c&quot;") != std::string::npos);
  unsigned w = 0, h = 0;
  std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x03\xc0\0\0\x01\x2c", 24);
  REQUIRE(png_size(png, w, h));
  CHECK(w == 960);
  CHECK(h == 300);
  CHECK_FALSE(png_size("GIF89a", w, h));
  CHECK(image_format_of("x.svg") == ImageFormat::Svg);
  CHECK(image_format_of("x.png") == ImageFormat::Png);
  CHECK(error_code_of([] { image_format_of("x.pdf"); }) == pw::kExitUsage);
}
