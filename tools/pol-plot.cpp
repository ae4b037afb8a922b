// pol-plot: pictures of what happened. Draws a proof (loss, learning rate, update norm),
// verdicts (distance over threshold per segment), a profile (measured distances and
// thresholds) or a dispute (the bisection narrowing to one op) as SVG, or PNG through
// rsvg-convert.
#include "cli/cli.hpp"
#include "core/error.hpp"
#include "io/file.hpp"
#include "plot/plot.hpp"
#include "plot/render.hpp"

using namespace pw;

int main(int argc, char** argv) {
  CLI::App app{"Draw what a proofwork file says: a proof directory (the loss per step, and with its task file the "
               "learning rate and the update norm per segment), one or more verdicts of one proof side by side "
               "(distance / threshold per segment, tensor and metric, failed segments marked), a profile (measured "
               "distances per source and segment, and the thresholds) or a dispute (the bisection's rounds down to "
               "the op, and the referee's ruling). SVG, or PNG rendered by rsvg-convert.",
               "pol-plot"};
  CommonOptions common;
  std::vector<std::string> inputs;
  std::string out;
  plot::PlotOptions opt;
  app.add_option("FILE", inputs, "A proof directory [and its task .pwt], verdicts .pwv, a profile .pwp or a dispute .pwd")
      ->required();
  app.add_option("-o,--output", out, "The picture: NAME.svg or NAME.png ('-': SVG on stdout)")->required();
  app.add_option("--width", opt.width, "Width in pixels (default 960; 480 per verdict side by side)")
      ->check(CLI::Range(320, 16000));
  app.add_option("--height", opt.height, "Height in pixels (default: 300 per row of panels, plus title and caption)")
      ->check(CLI::Range(200, 16000));
  app.add_option("--data-dir", opt.data_dir, "A dispute over loading a batch: find the dataset files here (by base name)");
  add_common_options(app, common, kOptThreads | kOptQuiet | kOptForce);

  return run_tool("pol-plot", argc, argv, app, [&]() -> int {
    apply_common_options(common);
    const plot::ImageFormat format = plot::image_format_of(out);
    check_output_path(out, inputs, common.force);
    for (const auto& in : inputs)
      if (is_directory(in)) check_output_outside(out, in);
    const plot::Figure fig = plot::make_figure(inputs, opt);
    const std::string svg = plot::render_svg(fig);
    plot::write_image(out, svg, format);
    if (out != "-")
      note(common, "wrote " + out + " (" + std::to_string(fig.width) + "x" +
                       std::to_string(fig.height ? fig.height : plot::auto_height(fig)) + ", " +
                       std::to_string(fig.panels.size()) + (fig.panels.size() == 1 ? " panel)" : " panels)"));
    return kExitOk;
  });
}
