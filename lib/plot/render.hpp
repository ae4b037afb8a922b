// pol-plot's output: the SVG as drawn, or a PNG rendered from it by rsvg-convert
// (librsvg2-bin), a real renderer run as a child process (fork and exec, no shell).
#pragma once
#include <string>

namespace pw::plot {

enum class ImageFormat { Svg, Png };

// From the output's extension: ".svg" or ".png" ("-": SVG on stdout); anything else is a
// usage error (exit 2).
ImageFormat image_format_of(const std::string& out);

// Writes `svg` to `out` atomically, as SVG or rendered to PNG. rsvg-convert missing or
// failing: an internal error (exit 4) that says so; no partial output is left behind.
void write_image(const std::string& out, const std::string& svg, ImageFormat format);

// Renders `svg` to PNG bytes with rsvg-convert (found on PATH, or $RSVG_CONVERT).
std::string render_png(const std::string& svg);

// The width and height in a PNG's IHDR chunk; false when `png` is not a PNG.
bool png_size(const std::string& png, unsigned& width, unsigned& height);

}  // namespace pw::plot
