// pol-task: create a training task from flags, or change one given with --from.
// The flags fill a plain description (TaskConfig); the library commits to the
// dataset and writes the task (proof/task_file.hpp).
#include "cli/cli.hpp"
#include "core/error.hpp"
#include "proof/task_file.hpp"
#include "train/dataset.hpp"
#include "train/task.hpp"
#include "train/trainer.hpp"

using namespace pw;

int main(int argc, char** argv) {
  CLI::App app{"Create a proofwork training task (proofwork-files(5), TASK). Dataset files are read to record their "
               "hashes and a Merkle root over the samples; the FLOP budget is derived from the model and step count.",
               "pol-task"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // later flags win, as in a script
  CommonOptions common;
  std::string from, out = "-", model, train_images, train_labels, test_images, test_labels, text, val_text;
  std::string optimizer = "sgd", schedule = "constant", mode = "exact", cut;
  double clip = 0, lr = 0, momentum = 0, weight_decay = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, input_scale = 1.0 / 255.0;
  uint32_t batch = 0, steps = 0, every = 0, reduce_chunk = 0;
  uint64_t seed = 0;
  app.add_option("--from", from, "Start from this task (binary or JSON); flags given override its fields");
  app.add_option("--model", model,
                 "Model: mlp:784-1024-1024-10 (ReLU between Linear layers) or gpt:LAYERS-HEADS-CHANNELS-CONTEXT (a "
                 "GPT-2-style byte-level language model, vocabulary 256; needs --text)");
  app.add_option("--text", text, "A GPT's training text (any bytes; one token a byte)");
  app.add_option("--val-text", val_text, "A GPT's validation text");
  app.add_option("--clip", clip, "A GPT's gradient-norm clipping: max total norm (0: none)")->check(CLI::NonNegativeNumber);
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
                 "Pipeline cut LAYER:BITS[:BWDBITS][:rot=T][:tile=S]: after hidden layer LAYER (1: after the first "
                 "Linear+ReLU; a GPT's: after block LAYER, the residual stream) the activation crosses by AQ-SGD with BITS bits, the gradient back by direct "
                 "quantization with BWDBITS (default 8); bits 2, 3, 4 or 8. rot=T rotates the forward change by "
                 "random-sign Hadamard tiles of T first, tile=S gives it a scale per S channels of a row (T, S: "
                 "powers of two). 'none' removes a cut taken --from a task");
  app.add_option("--reduce-chunk", reduce_chunk,
                 "Exact mode: sum the batch reductions (weight and bias gradients, the loss) in chunks of C samples (a GPT's "
                 "C*T rows) "
                 "combined by a fixed pairwise tree, so 1, 2, 4... data-parallel ranks give the same bits; the batch "
                 "must be a power-of-two count of chunks. 0 removes it (one chain over the batch)")
      ->check(CLI::Range(0u, 1u << 20));
  app.add_option("-o,--output", out, "Task file to write ('-': stdout)");
  add_common_options(app, common, kOptJson | kOptQuiet | kOptForce);

  return run_tool("pol-task", argc, argv, app, [&]() -> int {
    check_output_path(out, {from, train_images, train_labels, test_images, test_labels, text, val_text}, common.force);
    auto given = [&](const char* name) { return app.count(name) > 0; };
    const bool gpt_flag = given("--model") && model.rfind("gpt:", 0) == 0;
    TaskConfig c;
    if (!from.empty()) {
      c = read_task_fields(from);
    } else {
      for (const char* req : {"--model", "--lr", "--batch", "--steps", "--checkpoint-every"})
        if (!given(req)) usage_error(std::string(req) + " is required (or start from a task with --from)");
      for (const char* req : gpt_flag ? std::vector<const char*>{"--text"} : std::vector<const char*>{"--train-images", "--train-labels"})
        if (!given(req)) usage_error(std::string(req) + " is required for this model (or start from a task with --from)");
      c.input_scale = float(input_scale);
    }
    if (given("--model") && gpt_flag) {
      c.model = ModelKind::Gpt;
      c.gpt = parse_gpt_spec(model);
      c.widths.clear();
    } else if (given("--model")) {
      c.model = ModelKind::Mlp;
      c.widths = parse_mlp_spec(model);
    }
    if (given("--text")) c.text = text;
    if (given("--val-text")) c.val_text = val_text;
    if (given("--clip")) c.clip = clip;
    for (const char* f : {"--text", "--val-text", "--clip"})
      if (given(f) && !c.is_gpt()) usage_error(std::string(f) + " is for a GPT (--model gpt:...)");
    for (const char* f : {"--train-images", "--train-labels", "--test-images", "--test-labels", "--input-scale"})
      if (given(f) && c.is_gpt()) usage_error(std::string(f) + " is for an MLP; a GPT trains on --text");
    if (given("--train-images")) c.train_images = train_images;
    if (given("--train-labels")) c.train_labels = train_labels;
    if (given("--test-images")) c.test_images = test_images;
    if (given("--test-labels")) c.test_labels = test_labels;
    if (given("--input-scale")) c.input_scale = float(input_scale);
    if (given("--optimizer") || from.empty()) c.optimizer = optimizer == "sgd" ? OptimizerType::Sgd : OptimizerType::Adamw;
    if (given("--lr")) c.lr = lr;
    if (given("--momentum")) c.momentum = momentum;
    if (given("--weight-decay")) c.weight_decay = weight_decay;
    if (given("--beta1")) c.beta1 = beta1;
    if (given("--beta2")) c.beta2 = beta2;
    if (given("--eps")) c.eps = eps;
    if (given("--schedule") || from.empty()) parse_schedule_spec(schedule, c);
    if (given("--batch")) c.batch = int(batch);
    if (given("--steps")) c.steps = steps;
    if (given("--checkpoint-every")) c.checkpoint_every = every;
    if (given("--seed")) c.seed = seed;
    if (given("--mode")) c.exact = mode == "exact";
    if (given("--reduce-chunk")) c.reduce_chunk = int(reduce_chunk);
    if (given("--cut")) c.cut = cut == "none" ? CutSpec{} : parse_cut_spec(cut);
    c.budget_flops = 0;  // derived again: the model, batch or steps may have changed

    if (c.is_gpt() && c.text.empty()) usage_error("the task names no training text (--text)");
    if (!c.is_gpt() && (c.train_images.empty() || c.train_labels.empty()))
      usage_error("the task names no training images and labels");
    if (c.test_images.empty() != c.test_labels.empty()) usage_error("--test-images and --test-labels go together");
    // A GPT the model's rules refuse (heads not dividing channels, ...) is bad input
    // (exit 3), as in a task file, found before its text is measured against its context.
    if (c.is_gpt()) check_gpt_shape(c.gpt);
    commit_dataset(c);
    // A cut the model cannot take is bad input (exit 3), as in a task file; any other
    // rule the task breaks, the flags broke (usage, exit 2).
    if (given("--cut") && cut != "none") check_cut(c);
    try {
      check_task(c);
    } catch (const Error& e) {
      usage_error(e.what());
    }
    const WrittenTask w = write_task(out, c, common.json);
    note(common, "task " + hex(w.hash) + ": " + model_spec(c) + ", " +
                     std::to_string(tape_for(w.cfg).parameter_count()) + " parameters, " + std::to_string(c.steps) +
                     " steps, " + (c.is_gpt() ? std::to_string(c.text_length) + " bytes of text" : std::to_string(c.count) + " samples") +
                     (c.cut.enabled() ? ", cut " + cut_spec(c.cut) + " (layer:bits:backward bits)" : "") +
                     (c.reduce_chunk > 0 ? ", reduce chunk " + std::to_string(c.reduce_chunk) : ""));
    return kExitOk;
  });
}
