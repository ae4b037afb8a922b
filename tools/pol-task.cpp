// pol-task: create a training task from flags, or complete one given as JSON.
#include <cmath>

#include "cli/cli.hpp"
#include "core/error.hpp"
#include "io/message.hpp"
#include "train/dataset.hpp"
#include "train/task.hpp"
#include "train/trainer.hpp"

using namespace pw;

namespace {

void set_schedule(schema::Schedule::Builder s, const std::string& spec) {
  // constant | step:SIZE[:GAMMA] | cosine[:WARMUP[:MIN_LR]]
  std::vector<std::string> parts;
  size_t i = 0;
  for (;;) {
    size_t j = spec.find(':', i);
    parts.push_back(spec.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) break;
    i = j + 1;
  }
  auto num = [&](size_t k, const char* what) {
    try {
      size_t used = 0;
      double v = std::stod(parts[k], &used);
      if (used != parts[k].size() || !std::isfinite(v) || v < 0) throw std::invalid_argument("");
      return v;
    } catch (const std::exception&) {
      usage_error("--schedule '" + spec + "': bad " + what + " '" + parts[k] + "'");
    }
  };
  if (parts[0] == "constant" && parts.size() == 1) {
    s.setKind(schema::ScheduleKind::CONSTANT);
  } else if (parts[0] == "step" && (parts.size() == 2 || parts.size() == 3)) {
    s.setKind(schema::ScheduleKind::STEP);
    s.setStepSize(uint32_t(num(1, "step size")));
    if (parts.size() == 3) s.setGamma(num(2, "gamma"));
  } else if (parts[0] == "cosine" && parts.size() <= 3) {
    s.setKind(schema::ScheduleKind::COSINE);
    if (parts.size() >= 2) s.setWarmupSteps(uint32_t(num(1, "warm-up steps")));
    if (parts.size() == 3) s.setMinLr(num(2, "minimum lr"));
  } else {
    usage_error("--schedule '" + spec + "': expected constant, step:SIZE[:GAMMA] or cosine[:WARMUP[:MIN_LR]]");
  }
}

void set_file(schema::DataFile::Builder f, const std::string& path, const Hash& h) {
  f.setPath(path);
  if (!path.empty()) f.setHash(as_data(h));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Create a proofwork training task (DESIGN §10). Dataset files are read to record their hashes "
               "and a Merkle root over the samples; the FLOP budget is derived from the model and step count.",
               "pol-task"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // later flags win, as in a script
  CommonOptions common;
  std::string from, out = "-", model, train_images, train_labels, test_images, test_labels;
  std::string optimizer = "sgd", schedule = "constant", mode = "exact", cut;
  double lr = 0, momentum = 0, weight_decay = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, input_scale = 1.0 / 255.0;
  uint32_t batch = 0, steps = 0, every = 0;
  uint64_t seed = 0;
  app.add_option("--from", from, "Start from this task (binary or JSON); flags given override its fields");
  app.add_option("--model", model, "Model, e.g. mlp:784-1024-1024-10 (ReLU between Linear layers)");
  app.add_option("--train-images", train_images, "Training images, IDX (.gz accepted)");
  app.add_option("--train-labels", train_labels, "Training labels, IDX (.gz accepted)");
  app.add_option("--test-images", test_images, "Test images, for accuracy at the end of training");
  app.add_option("--test-labels", test_labels, "Test labels");
  app.add_option("--optimizer", optimizer, "sgd or adamw (PyTorch's definitions)")->check(CLI::IsMember({"sgd", "adamw"}));
  app.add_option("--lr", lr, "Learning rate")->check(CLI::PositiveNumber);
  app.add_option("--momentum", momentum, "SGD momentum (no dampening)")->check(CLI::Range(0.0, 0.999999));
  app.add_option("--weight-decay", weight_decay, "Weight decay")->check(CLI::NonNegativeNumber);
  app.add_option("--beta1", beta1, "AdamW beta1")->check(CLI::Range(0.0, 0.999999));
  app.add_option("--beta2", beta2, "AdamW beta2")->check(CLI::Range(0.0, 0.999999));
  app.add_option("--eps", eps, "AdamW epsilon")->check(CLI::PositiveNumber);
  app.add_option("--schedule", schedule, "constant | step:SIZE[:GAMMA] | cosine[:WARMUP[:MIN_LR]]");
  app.add_option("--batch", batch, "Batch size")->check(CLI::Range(1u, 1u << 20));
  app.add_option("--steps", steps, "Training steps")->check(CLI::Range(1u, 1u << 30));
  app.add_option("--checkpoint-every", every, "Steps between checkpoints")->check(CLI::Range(1u, 1u << 30));
  app.add_option("--seed", seed, "Seed of initial weights and batch order");
  app.add_option("--mode", mode, "exact (bitwise) or fast (tolerance-verified)")->check(CLI::IsMember({"exact", "fast"}));
  app.add_option("--input-scale", input_scale, "Input = pixel x scale (default 1/255)");
  app.add_option("--cut", cut,
                 "Pipeline cut LAYER:BITS[:BWDBITS]: after hidden layer LAYER (1: after the first Linear+ReLU) the "
                 "activation crosses by AQ-SGD with BITS bits, the gradient back by direct quantization with BWDBITS "
                 "(default 8); bits 2, 3, 4 or 8. 'none' removes a cut taken --from a task");
  app.add_option("-o,--output", out, "Task file to write ('-': stdout)");
  add_common_options(app, common, kOptJson | kOptQuiet | kOptForce);

  return run_tool("pol-task", argc, argv, app, [&]() -> int {
    check_output_path(out, {from, train_images, train_labels, test_images, test_labels}, common.force);
    capnp::MallocMessageBuilder mb;
    schema::Task::Builder t = mb.initRoot<schema::Task>();
    if (!from.empty()) {
      auto base = Message<schema::Task>::read(from, kSmallFileLimit, "task");
      mb.setRoot(base.root());
      t = mb.getRoot<schema::Task>();
    } else {
      for (const char* req : {"--model", "--train-images", "--train-labels", "--lr", "--batch", "--steps", "--checkpoint-every"})
        if (app.count(req) == 0) usage_error(std::string(req) + " is required (or start from a task with --from)");
      t.getOptimizer().setBeta1(beta1);
      t.getOptimizer().setBeta2(beta2);
      t.getOptimizer().setEps(eps);
      t.getDataset().setInputScale(float(input_scale));
    }
    t.setFormatVersion(1);
    auto given = [&](const char* name) { return app.count(name) > 0; };
    auto ds = t.getDataset();
    if (given("--model")) {
      std::vector<int> w = parse_mlp_spec(model);
      auto m = t.initModel();
      m.setKind("mlp");
      m.setActivation("relu");
      auto lw = m.initWidths(unsigned(w.size()));
      for (size_t i = 0; i < w.size(); i++) lw.set(unsigned(i), uint32_t(w[i]));
    }
    if (given("--train-images")) ds.getTrainImages().setPath(train_images);
    if (given("--train-labels")) ds.getTrainLabels().setPath(train_labels);
    if (given("--test-images")) ds.getTestImages().setPath(test_images);
    if (given("--test-labels")) ds.getTestLabels().setPath(test_labels);
    if (given("--input-scale")) ds.setInputScale(float(input_scale));
    auto o = t.getOptimizer();
    if (given("--optimizer") || from.empty())
      o.setKind(optimizer == "sgd" ? schema::OptimizerKind::SGD : schema::OptimizerKind::ADAMW);
    if (given("--lr")) o.setLr(lr);
    if (given("--momentum")) o.setMomentum(momentum);
    if (given("--weight-decay")) o.setWeightDecay(weight_decay);
    if (given("--beta1")) o.setBeta1(beta1);
    if (given("--beta2")) o.setBeta2(beta2);
    if (given("--eps")) o.setEps(eps);
    if (given("--schedule") || from.empty()) set_schedule(t.initSchedule(), schedule);
    if (given("--batch")) t.setBatch(batch);
    if (given("--steps")) t.setSteps(steps);
    if (given("--checkpoint-every")) t.setCheckpointEvery(every);
    if (given("--seed")) t.setSeed(seed);
    if (given("--mode")) t.setMode(mode == "exact" ? schema::Mode::EXACT : schema::Mode::FAST);
    CutSpec cut_flag;
    if (given("--cut") && cut == "none") {
      t.disownCut();
    } else if (given("--cut")) {
      cut_flag = parse_cut_spec(cut);
      auto k = t.initCut();
      k.setLayer(uint32_t(cut_flag.layer));
      k.setForwardBits(uint32_t(cut_flag.forward_bits));
      k.setBackwardBits(uint32_t(cut_flag.backward_bits));
    }

    // Read the dataset and commit to it.
    const std::string ti = ds.getTrainImages().getPath().cStr(), tl = ds.getTrainLabels().getPath().cStr();
    const std::string vi = ds.getTestImages().getPath().cStr(), vl = ds.getTestLabels().getPath().cStr();
    if (ti.empty() || tl.empty()) usage_error("the task names no training images and labels");
    if (vi.empty() != vl.empty()) usage_error("--test-images and --test-labels go together");
    auto widths = t.getModel().getWidths();
    const uint32_t classes = widths.size() ? widths[widths.size() - 1] : 0;
    Dataset d = load_dataset(ti, tl, vi, vl, classes);
    ds.setFormat("idx");
    set_file(ds.getTrainImages(), ti, d.images_hash);
    set_file(ds.getTrainLabels(), tl, d.labels_hash);
    set_file(ds.getTestImages(), vi, d.test_images_hash);
    set_file(ds.getTestLabels(), vl, d.test_labels_hash);
    ds.setCount(d.count);
    ds.setRows(d.rows);
    ds.setCols(d.cols);
    ds.setClasses(d.classes);
    ds.setContentHash(as_data(d.content_hash));
    ds.setSampleRoot(as_data(d.sample_root));
    auto prov = t.initProvenance();
    prov.setProgram("pol-task");
    prov.setVersion(version());
    prov.setCommandLine(command_line());
    t.setBudgetFlops(0);

    if (given("--cut") && cut != "none") {  // a cut the model cannot take is bad input (exit 3), as in a task file
      std::vector<int> w;
      for (uint32_t x : widths) w.push_back(int(x));
      cut_flag.samples = d.count;
      if (w.size() >= 2) check_cut(cut_flag, w);
    }
    TaskConfig c;
    try {
      c = task_config(t.asReader());
    } catch (const Error& e) {
      usage_error(std::string(e.what()));  // the flags made an invalid task
    }
    const Tape tape = tape_for(c);
    t.setBudgetFlops(double(tape.flops_per_step()) * double(c.steps));
    write_message<schema::Task>(out, mb, common.json);
    note(common, "task " + hex(task_hash(t.asReader())) + ": " + mlp_spec(c.widths) + ", " +
                     std::to_string(tape.parameter_count()) + " parameters, " + std::to_string(c.steps) + " steps, " +
                     std::to_string(d.count) + " samples" +
                     (c.cut.enabled() ? ", cut " + cut_spec(c.cut) + " (layer:bits:backward bits)" : ""));
    return kExitOk;
  });
}
