// pol-plot's drawing (pol-plot(1), DESCRIPTION): figures of panels, laid out and written
// as SVG directly, so the layout is exact. Tick labels, legends and captions are set in a
// monospace font whose advance is known (kCharWidth of the font size), so label widths are
// computed, not guessed: ticks are thinned until no two labels overlap, at any range (10,000
// steps, 1,000 segments), and a line never holds more than a few points per pixel column.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pw::plot {

constexpr double kFontSize = 12;       // px, tick labels, legends, captions
constexpr double kTitleSize = 14;      // px, titles and axis labels
constexpr double kCharWidth = 0.6;     // monospace advance, in ems (DejaVu Sans Mono: 0.602)
constexpr double kLabelGap = 8;        // px between two tick labels, at least

// A value axis mapped onto pixels [px0, px1] (px1 < px0 for a y axis: up is smaller).
struct Scale {
  double lo = 0, hi = 1;
  bool log = false;     // lo > 0 then
  double px0 = 0, px1 = 1;
  double px(double v) const;
};

// The range of `values` (finite ones; only positive ones for a log axis), widened to a
// readable one: a log range to whole decades, a linear one by a margin; `include` values
// are always inside. An empty range becomes [0, 1] (log: [0.1, 10]).
Scale fit_range(const std::vector<double>& values, bool log, const std::vector<double>& include = {});

struct Tick {
  double value;
  double pos;           // px along the axis
  std::string label;
  double from, to;      // the label's extent along the axis, px
};

// Ticks of `s` whose labels do not overlap: along a horizontal axis a label is as wide as
// its text, along a vertical one as tall as the font. Linear: the smallest step in
// 1, 2, 5 × 10^k that leaves kLabelGap between labels; log: whole decades, every d-th
// decade when they are too dense, or 1, 2, 5 in each of up to three decades where they fit.
// `integer`: no fractional ticks (steps, segments, rounds).
std::vector<Tick> axis_ticks(const Scale& s, bool horizontal, bool integer = false);

// "0.001", "25", "1e-06" → "1e-6": the shortest label that tells ticks `step` apart.
std::string tick_label(double v, double step, bool log);

struct Point {
  double x, y;
};
// A polyline through (x[i], y[i]) in pixels, at most 4 points per pixel column (the
// first, lowest, highest and last of the column), in order. Non-finite y break the line:
// each run comes back as its own polyline.
std::vector<std::vector<Point>> decimate_line(const std::vector<double>& x, const std::vector<double>& y,
                                              const Scale& sx, const Scale& sy);
// Points (x[i], y[i]) as one vertical span per pixel column, lowest to highest: a dot
// where the column holds one value. Non-finite y are left out.
struct Span {
  double x, y0, y1;
};
std::vector<Span> decimate_points(const std::vector<double>& x, const std::vector<double>& y, const Scale& sx,
                                  const Scale& sy);

enum class Style : uint8_t {
  Line,    // a polyline
  Dots,    // points, one span per pixel column
  Ranges,  // vertical bars from y[i] to y2[i]
};

struct Series {
  std::string label;    // in the legend; empty: not listed
  std::string color;
  Style style = Style::Line;
  std::vector<double> x, y, y2;
};

struct HLine {
  double y;
  std::string label, color;
  bool dashed = true;
};

struct Panel {
  std::string title;
  std::string x_label, y_label;  // with units
  bool log_y = false;
  bool integer_x = true;
  bool integer_y = false;        // positions (steps, ops): no fractional ticks
  double x_lo = 0, x_hi = 0;     // x_hi <= x_lo: fitted to the series
  std::vector<Series> series;
  std::vector<HLine> hlines;
  std::vector<double> marks;     // x of marked positions (failed segments): red bands
  std::string mark_label;        // the marks' legend entry
  std::vector<double> y_include; // values the y range must show (the rejection line at 1)
  std::vector<std::pair<double, std::string>> y_ticks;  // named ticks instead of numbers
  std::string message;           // shown in the plot area (no data, and why)
};

struct Figure {
  std::string title;
  int width = 960, height = 0;   // height 0: kPanelHeight per row plus title and caption
  int columns = 1;               // panels fill rows of this many
  std::vector<Panel> panels;
  std::vector<std::string> caption;  // paragraphs, wrapped to the width
};

constexpr int kPanelHeight = 300;
constexpr int kMinPanelHeight = 120;

// The height `f` gets with height 0 at its width (title, rows of panels, caption).
int auto_height(const Figure& f);
// Wraps `text` into lines of at most `chars` characters, at spaces where it can.
std::vector<std::string> wrap(const std::string& text, size_t chars);

// The figure as an SVG document of f.width × (f.height or auto_height(f)) pixels. A size too
// small for its panels is a usage error (exit 2).
std::string render_svg(const Figure& f);

// The palette, cycled: distinct in colour and in lightness.
const std::string& palette(size_t i);

}  // namespace pw::plot
