#include "dist/pipeline.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/error.hpp"
#include "dist/data_parallel.hpp"
#include "model/cpu_ops.hpp"
#include "model/cut.hpp"
#include "model/gpt.hpp"
#include "sched/schedule.hpp"
#include "tensor/ops.hpp"
#include "tensor/transformer.hpp"

namespace pw {

namespace {
bool is_update(OpKind k) { return k == OpKind::SgdUpdate || k == OpKind::AdamwUpdate; }
bool is_cut(OpKind k) { return k == OpKind::CutForward || k == OpKind::CutBackward; }
bool is_load(OpKind k) { return k == OpKind::LoadBatch || k == OpKind::LoadWindows; }
bool power_of_two(int64_t n) { return n >= 1 && (n & (n - 1)) == 0; }
// Message tags: a tensor's id for its activations and gradients; these for the rest.
constexpr int kStateTag = 30000, kLossTag = 30001;

int stage_of_layer(const PipelineLayout& lay, int layer) {
  int s = 0;
  while (s + 1 < lay.stages && layer >= lay.first_layer[size_t(s) + 1]) s++;
  return s;
}

// Where each op runs (proofwork(7), PIPELINE STAGES): its layer's stage (an MLP's Linear
// layer; a GPT's block, its final layer norm and LM head (layer L) on the last stage, its
// embedding (layer -1) on the first); the loss on the last; the GPT's embedding backward
// on the last too, where the tied wte's two gradient contributions meet; an optimizer op
// where its gradient is made. -1: a batch load (wherever its outputs are read) or a cut's
// crossing (its two sides); kEveryStage: gradient clipping (its norm over every stage's
// gradients, after the reduction).
constexpr int kEveryStage = -2;
std::vector<int> op_stages(const Tape& tape, const PipelineLayout& lay) {
  const std::vector<Op>& ops = tape.ops;
  std::vector<int> where(ops.size(), -1), maker(tape.tensors.size(), -1);
  for (size_t i = 0; i < ops.size(); i++) {
    const OpKind k = ops[i].kind;
    if (k == OpKind::CrossEntropyForward || k == OpKind::CrossEntropyBackward || k == OpKind::EmbeddingBackward)
      where[i] = lay.stages - 1;
    else if (k == OpKind::ClipGradients)
      where[i] = kEveryStage;
    else if (is_update(k))
      where[i] = maker[size_t(ops[i].in[1])];
    else if (!is_load(k) && !is_cut(k))
      where[i] = stage_of_layer(lay, ops[i].layer);
    if (where[i] >= 0)
      for (int id : ops[i].out) maker[size_t(id)] = where[i];
  }
  return where;
}

// The checkpoint tensors stage `s` updates, in checkpoint order: its layers' parameters
// and optimizer state, and the cut's buffer when the cut's sending side is here.
std::vector<int> stage_state(const Tape& tape, const PipelineLayout& lay, int s) {
  std::vector<char> mine(tape.tensors.size(), 0);
  const std::vector<int> where = op_stages(tape, lay);
  for (size_t i = 0; i < tape.ops.size(); i++)
    if (is_update(tape.ops[i].kind) && where[i] == s)
      for (int id : tape.ops[i].out) mine[size_t(id)] = 1;
  if (tape.cut.enabled() && stage_of_layer(lay, tape.cut.layer - 1) == s)
    for (int id : tape.cut_state) mine[size_t(id)] = 1;
  std::vector<int> ids;
  for (int id : checkpoint_tensors(tape))
    if (mine[size_t(id)]) ids.push_back(id);
  return ids;
}

std::vector<uint8_t> floats_bytes(const float* p, int64_t n) {
  const auto* b = reinterpret_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(b, b + n * int64_t(sizeof(float)));
}
void bytes_floats(const std::vector<uint8_t>& b, float* p, int64_t n, const std::string& what) {
  if (int64_t(b.size()) != n * int64_t(sizeof(float)))
    internal_error("pipeline: " + what + ": " + std::to_string(b.size()) + " bytes, expected " +
                   std::to_string(n * int64_t(sizeof(float))));
  std::memcpy(p, b.data(), b.size());
}

// One rank's stage: its ops of the tape at micro-batch size, one workspace per
// micro-batch (activations kept from the forward ops to the backward ops, GPipe), and
// its phases: runs of ops that every micro-batch goes through in turn, and the cut's
// crossings, which run once over the replica's block.
class Stage {
 public:
  // `chain`: the ranks of this replica, one a stage, numbered by stage (gradient clipping).
  Stage(const TaskConfig& task, const PipelineLayout& lay, const Ranks& world, const Ranks& replicas,
        const Ranks& chain);
  // Step `ctx` (Trainer::context: the whole batch) on `state` (the trainer's
  // workspace); returns the loss on the last stage (0 elsewhere).
  float step(Workspace& state, const StepContext& ctx);
  int64_t to_stages = 0;  // bytes sent to the stages beside this one

 private:
  // Micro: every micro-batch in turn; Cut: a cut's crossing; Block: once over the
  // replica's block after every micro-batch's inputs came (the GPT's embedding backward
  // without a reduce chunk: its chains are per token id over the whole block).
  enum class Kind : uint8_t { Micro, Cut, Block };
  struct Phase {
    Kind kind = Kind::Micro;
    std::vector<size_t> ops;
    std::vector<std::pair<int, int>> receive, send;  // (tensor, stage)
  };
  const PipelineLayout& lay_;
  Ranks world_, replicas_, chain_;
  int stage_, replica_;
  int64_t batch_, block_, micro_;  // B, B/D, B/(D·M)
  Tape tape_;
  std::vector<Workspace> ws_;
  std::vector<int> state_ids_, grads_;
  std::vector<Phase> phases_;
  std::vector<size_t> updates_;
  bool holds_cut_ = false, last_ = false;
  bool chained_ = false;  // no reduce chunk: the reductions' chains continue across micro-batches
  std::vector<float> partials_;
  int rows_ = 1;          // rows per sample (a GPT's T)
  bool clip_ = false;     // the tape clips gradients: over every stage's, before the updates
  // Parameters read on other stages (the GPT's tied wte, its wpe): after the update, the
  // stage that updates one sends it to each stage that reads it: (tensor, stage).
  std::vector<std::pair<int, int>> param_sends_, param_receives_;

  void swap_state(Workspace& state, Workspace& w) {
    for (int id : state_ids_) std::swap(w.t[size_t(id)], state.t[size_t(id)]);
  }
  void run_micro(const Phase& p, Workspace& state, const StepContext& ctx, const uint32_t* block);
  void run_cut(const Op& op, Workspace& state, const uint32_t* block);
  void run_block(const Phase& p);
  void clip(Workspace& w);
  void update(Workspace& w, Workspace& state, const StepContext& c);
};

Stage::Stage(const TaskConfig& task, const PipelineLayout& lay, const Ranks& world, const Ranks& replicas,
             const Ranks& chain)
    : lay_(lay), world_(world), replicas_(replicas), chain_(chain) {
  stage_ = lay.stage_of_rank[size_t(world.rank)];
  replica_ = lay.replica_of_rank[size_t(world.rank)];
  last_ = stage_ == lay.stages - 1;
  chained_ = task.reduce_chunk == 0;
  batch_ = task.batch;
  block_ = batch_ / lay.replicas;
  micro_ = block_ / lay.micro_batches;
  TaskConfig micro = task;
  micro.batch = int(micro_);
  tape_ = tape_for(micro);
  state_ids_ = checkpoint_tensors(tape_);
  for (int m = 0; m < lay.micro_batches; m++) {
    ws_.emplace_back(tape_);
    for (int id : state_ids_) std::vector<float>().swap(ws_.back().t[size_t(id)]);  // swapped in to run
  }
  rows_ = tape_.kind == ModelKind::Gpt ? tape_.gpt.context : 1;
  const std::vector<Op>& ops = tape_.ops;
  const std::vector<int> where = op_stages(tape_, lay);  // who runs each op
  // The stage that holds each activation and gradient once made: its op's, or a cut
  // crossing's receiving side (the cut ops' layer is the Linear layer before the cut).
  std::vector<int> holder(tape_.tensors.size(), -1);
  for (size_t i = 0; i < ops.size(); i++) {
    const Op& op = ops[i];
    if (op.kind == OpKind::CutForward) holder[size_t(op.out[0])] = stage_of_layer(lay, op.layer + 1);
    else if (op.kind == OpKind::CutBackward) holder[size_t(op.out[0])] = stage_of_layer(lay, op.layer);
    else if (where[i] >= 0)
      for (int id : op.out) holder[size_t(id)] = where[i];
  }
  auto moves = [&](int id) {
    const Role r = tape_.tensors[size_t(id)].role;
    return r == Role::Activation || r == Role::Gradient;
  };
  bool load_here = false;
  for (size_t i = 0; i < ops.size(); i++)
    if (where[i] == stage_)
      for (int id : ops[i].in) load_here |= id == tape_.input || id == tape_.labels;
  if (tape_.cut.enabled()) {
    const int k = tape_.cut.layer;
    holds_cut_ = stage_of_layer(lay, k - 1) == stage_ || stage_of_layer(lay, k) == stage_;
  }
  Phase cur;
  std::vector<char> received(tape_.tensors.size(), 0);  // kept in the micro-batch's workspace
  auto close = [&] {
    if (!cur.ops.empty()) phases_.push_back(std::move(cur));
    cur = Phase{};
  };
  for (size_t i = 0; i < ops.size(); i++) {
    const Op& op = ops[i];
    if (is_update(op.kind)) {
      if (where[i] == stage_) {
        updates_.push_back(i);
        grads_.push_back(op.in[1]);
      }
      std::vector<char> readers(size_t(lay.stages), 0);
      for (size_t j = 0; j < ops.size(); j++)
        if (where[j] >= 0 && where[j] != where[i] && !is_update(ops[j].kind) &&
            std::find(ops[j].in.begin(), ops[j].in.end(), op.in[0]) != ops[j].in.end())
          readers[size_t(where[j])] = 1;
      for (int s = 0; s < lay.stages; s++) {
        if (!readers[size_t(s)]) continue;
        if (where[i] == stage_) param_sends_.push_back({op.in[0], s});
        if (s == stage_) param_receives_.push_back({op.in[0], where[i]});
      }
      continue;
    }
    if (op.kind == OpKind::ClipGradients) {
      clip_ = true;
      continue;
    }
    if (is_load(op.kind)) {
      if (load_here) cur.ops.push_back(i);
      continue;
    }
    if (is_cut(op.kind)) {  // sides: the Linear layer before the cut's stage and the one after's
      if (stage_of_layer(lay, op.layer) == stage_ || stage_of_layer(lay, op.layer + 1) == stage_) {
        close();
        phases_.push_back(Phase{Kind::Cut, {i}, {}, {}});
      }
      continue;
    }
    if (where[i] != stage_) continue;
    auto incoming = [&](int id) {
      const int from = holder[size_t(id)];
      return moves(id) && from >= 0 && from != stage_ && !received[size_t(id)];
    };
    // A gradient from a later stage: the backward phase begins (GPipe). An input from a
    // stage that needs this phase's outputs first (the GPT's embedding gradient, from the
    // first stage to the last) starts a phase too: a phase receives before it runs.
    if (std::any_of(op.in.begin(), op.in.end(), [&](int id) {
          return incoming(id) && (holder[size_t(id)] > stage_ || !cur.send.empty());
        }))
      close();
    const bool block = chained_ && op.kind == OpKind::EmbeddingBackward;
    if (block) close();
    for (int id : op.in)
      if (incoming(id)) {
        cur.receive.push_back({id, holder[size_t(id)]});
        received[size_t(id)] = 1;
      }
    cur.ops.push_back(i);
    for (int id : op.out)
      for (size_t j = i + 1; j < ops.size(); j++) {
        const std::pair<int, int> tx{id, where[j]};
        if (where[j] >= 0 && where[j] != stage_ && moves(id) &&
            std::find(ops[j].in.begin(), ops[j].in.end(), id) != ops[j].in.end() &&
            std::find(cur.send.begin(), cur.send.end(), tx) == cur.send.end())
          cur.send.push_back(tx);
      }
    if (block) {
      if (!cur.send.empty()) internal_error("pipeline: a block phase sends nothing");
      cur.kind = Kind::Block;
      close();
    }
  }
  close();
  if (chained_) return;
  int64_t n = last_ ? 1 : 0;  // the loss
  for (int g : grads_) n += tape_.tensors[size_t(g)].size();
  partials_.assign(size_t(n) * size_t(lay.micro_batches), 0.0f);
}

void Stage::run_micro(const Phase& p, Workspace& state, const StepContext& ctx, const uint32_t* block) {
  for (int m = 0; m < lay_.micro_batches; m++) {
    Workspace& w = ws_[size_t(m)];
    StepContext c = ctx;
    c.batch_indices = block + m * micro_;
    c.global_batch = int(batch_);
    c.batch_max = nullptr;
    if (chained_ && m > 0) {  // the earlier micro-batches' chains move on to this one
      c.continue_chains = true;
      for (size_t i : p.ops) {
        const Op& op = tape_.ops[i];
        if (op.kind == OpKind::LinearBackwardWeight || op.kind == OpKind::LinearBackwardBias)
          std::swap(ws_[size_t(m) - 1].t[size_t(op.out[0])], w.t[size_t(op.out[0])]);
        else if (op.kind == OpKind::LayerNormBackward)  // its weight's and bias's gradients
          for (size_t k = 1; k < 3; k++) std::swap(ws_[size_t(m) - 1].t[size_t(op.out[k])], w.t[size_t(op.out[k])]);
        else if (op.kind == OpKind::CrossEntropyForward)
          std::swap(ws_[size_t(m) - 1].t[size_t(op.out[1])], w.t[size_t(op.out[1])]);
      }
    }
    for (const auto& [id, from] : p.receive)
      bytes_floats(receive_bytes(world_, lay_.rank_of(from, replica_), id), w[id], tape_.tensors[size_t(id)].size(),
                   tape_.tensors[size_t(id)].name);
    swap_state(state, w);
    for (size_t i : p.ops) run_op(tape_, tape_.ops[i], w, c);
    swap_state(state, w);
    for (const auto& [id, to] : p.send) {
      send_bytes(world_, lay_.rank_of(to, replica_), id, floats_bytes(w[id], tape_.tensors[size_t(id)].size()));
      to_stages += tape_.tensors[size_t(id)].size() * int64_t(sizeof(float));
    }
  }
}

// The GPT's embedding backward without a reduce chunk, once over the replica's block (one
// replica: the whole batch): the micro-batches' token ids and embedding gradients one
// after another, the LM head's wte gradient continued over every micro-batch in the last
// one's workspace; embedding_backward sums each id's rows in one chain from zero and adds
// it once, and wpe's chains run b ascending: one process's bits (proofwork(7), PIPELINE STAGES).
void Stage::run_block(const Phase& p) {
  const Op& op = tape_.ops[p.ops[0]];
  if (op.kind != OpKind::EmbeddingBackward || op.in.size() != 3) internal_error("pipeline: a block phase of another op");
  for (int m = 0; m < lay_.micro_batches; m++)
    for (const auto& [id, from] : p.receive) {
      bytes_floats(receive_bytes(world_, lay_.rank_of(from, replica_), id), ws_[size_t(m)][id],
                   tape_.tensors[size_t(id)].size(), tape_.tensors[size_t(id)].name);
    }
  const GptSpec& g = tape_.gpt;
  const int64_t per = micro_ * g.context;  // a micro-batch's rows
  std::vector<float> idx, dx;
  for (const Workspace& w : ws_) {
    idx.insert(idx.end(), w[op.in[0]], w[op.in[0]] + per);
    dx.insert(dx.end(), w[op.in[1]], w[op.in[1]] + per * g.channels);
  }
  Workspace& last = ws_.back();
  embedding_backward(idx.data(), dx.data(), last[op.out[0]], last[op.out[1]], int(block_), g.context, g.channels,
                     g.vocab, g.context);
}

// Gradient clipping across the stages (proofwork(7), PIPELINE STAGES): every stage's
// gradients' sums of squares (sum_squares, each on the stage that holds it) go to every
// stage of the replica, which forms the one coefficient clip_coefficient forms from all of
// them in state-dict order, and scales its own gradients by it.
void Stage::clip(Workspace& w) {
  const std::vector<int>& all = tape_.grads;
  std::vector<float> ss(all.size(), 0.0f);
  std::vector<uint8_t> mine;
  for (size_t k = 0; k < all.size(); k++)
    if (std::find(grads_.begin(), grads_.end(), all[k]) != grads_.end()) {
      ss[k] = sum_squares(w[all[k]], tape_.tensors[size_t(all[k])].size());
      const uint32_t index = uint32_t(k);
      const auto* a = reinterpret_cast<const uint8_t*>(&index);
      const auto* b = reinterpret_cast<const uint8_t*>(&ss[k]);
      mine.insert(mine.end(), a, a + 4);
      mine.insert(mine.end(), b, b + 4);
    }
  const std::vector<std::vector<uint8_t>> parts = gather_bytes(chain_, mine, 0);
  for (const std::vector<uint8_t>& part : parts)
    for (size_t o = 0; o + 8 <= part.size(); o += 8) {
      uint32_t index = 0;
      std::memcpy(&index, part.data() + o, 4);
      if (index >= ss.size()) internal_error("pipeline: a gradient index out of range");
      std::memcpy(&ss[index], part.data() + o + 4, 4);
    }
  broadcast(chain_, ss.data(), int64_t(ss.size() * sizeof(float)), 0);
  const float coef = clip_coefficient(ss, tape_.clip);
  if (coef < 1.0f)
    for (int g : grads_) scale_inplace(w[g], tape_.tensors[size_t(g)].size(), coef);
}

// Clipping, this stage's optimizer ops on `w` (whose gradients are the step's), then the
// parameters other stages read, from the stage that updated them to those.
void Stage::update(Workspace& w, Workspace& state, const StepContext& c) {
  if (clip_) clip(w);
  swap_state(state, w);
  for (size_t i : updates_) run_op(tape_, tape_.ops[i], w, c);
  swap_state(state, w);
  for (const auto& [id, to] : param_sends_) {
    send_bytes(world_, lay_.rank_of(to, replica_), id, floats_bytes(state[id], tape_.tensors[size_t(id)].size()));
    to_stages += tape_.tensors[size_t(id)].size() * int64_t(sizeof(float));
  }
  for (const auto& [id, from] : param_receives_)
    bytes_floats(receive_bytes(world_, lay_.rank_of(from, replica_), id), state[id], tape_.tensors[size_t(id)].size(),
                 tape_.tensors[size_t(id)].name);
}

void Stage::run_cut(const Op& op, Workspace& state, const uint32_t* block) {
  const int64_t w = cut_width(tape_, op.in[0]), per = micro_ * w;
  const bool forward = op.kind == OpKind::CutForward;
  // The forward crossing goes from the Linear layer before the cut to the one after; the
  // backward one the other way.
  const int before = stage_of_layer(lay_, op.layer), after = stage_of_layer(lay_, op.layer + 1);
  const int sender = forward ? before : after, receiver = forward ? after : before;
  const int peer = lay_.rank_of(stage_ == sender ? receiver : sender, replica_);
  BatchMax batch_max;
  if (replicas_.size > 1) batch_max = [this](float* v, int64_t n) { max_floats(replicas_, v, n); };
  std::vector<float> in, out(size_t(block_ * w));
  if (stage_ == sender)  // the replica's block: the micro-batches' rows one after another
    for (const Workspace& m : ws_) in.insert(in.end(), m[op.in[0]], m[op.in[0]] + per);
  float* buffer = tape_.cut.enabled() && forward ? state[tape_.cut_state[0]] : nullptr;
  float* seen = forward ? state[tape_.cut_state[1]] : nullptr;
  auto send = [&](std::vector<uint8_t> msg) {
    to_stages += int64_t(msg.size());
    send_bytes(world_, peer, op.out[0], std::move(msg));
  };
  if (forward) {
    const aqsgd::Codec codec = cut_forward_codec(tape_.cut);
    if (sender == receiver)
      cut_forward(in.data(), block, block_, w, codec, buffer, seen, out.data(), batch_max);
    else if (stage_ == sender)
      send(cut_forward_send(in.data(), block, block_, w, codec, buffer, seen, batch_max));
    else
      cut_forward_receive(receive_bytes(world_, peer, op.out[0]), block, block_, w, codec, buffer, seen, out.data());
  } else {
    const aqsgd::Codec codec = cut_backward_codec(tape_.cut);
    if (sender == receiver)
      cut_backward(in.data(), block_, w, codec, out.data(), batch_max);
    else if (stage_ == sender)
      send(cut_backward_send(in.data(), block_, w, codec, batch_max));
    else
      cut_backward_receive(receive_bytes(world_, peer, op.out[0]), block_, w, codec, out.data());
  }
  if (stage_ == receiver)
    for (size_t m = 0; m < ws_.size(); m++)
      std::copy(out.begin() + int64_t(m) * per, out.begin() + int64_t(m + 1) * per, ws_[m][op.out[0]]);
}

float Stage::step(Workspace& state, const StepContext& ctx) {
  const uint32_t* block = ctx.batch_indices + replica_ * block_;
  for (const Phase& p : phases_) {
    if (p.kind == Kind::Cut)
      run_cut(tape_.ops[p.ops[0]], state, block);
    else if (p.kind == Kind::Block)
      run_block(p);
    else
      run_micro(p, state, ctx, block);
  }
  if (holds_cut_) share_cut_rows(replicas_, tape_, state, ctx.batch_indices, batch_);
  StepContext c = ctx;
  c.batch_indices = block;
  c.global_batch = int(batch_);
  const float rows = float(batch_ * rows_);  // the loss's mean is over them (a GPT's B·T tokens)
  if (chained_) {  // the last micro-batch holds the whole batch's chains (one replica: nothing to combine)
    update(ws_.back(), state, c);
    return last_ ? ws_.back()[tape_.loss][0] / rows : 0.0f;  // as softmax_cross_entropy_forward divides
  }
  // Each micro-batch's subtree partials, the tree's levels over them, then the replicas'.
  const int64_t n = int64_t(partials_.size()) / lay_.micro_batches;
  for (int m = 0; m < lay_.micro_batches; m++) {
    float* p = partials_.data() + m * n;
    for (int g : grads_) p = std::copy(ws_[size_t(m)].t[size_t(g)].begin(), ws_[size_t(m)].t[size_t(g)].end(), p);
    if (last_) *p = ws_[size_t(m)][tape_.loss][0];  // undivided
  }
  tree_combine(partials_.data(), lay_.micro_batches, n);
  std::vector<float> sums(partials_.begin(), partials_.begin() + n);
  combine_ranks(replicas_, sums);
  const float* p = sums.data();
  Workspace& w = ws_[0];
  for (int g : grads_) {
    std::copy(p, p + tape_.tensors[size_t(g)].size(), w.t[size_t(g)].begin());
    p += tape_.tensors[size_t(g)].size();
  }
  update(w, state, c);
  return last_ ? sums.back() / rows : 0.0f;  // as softmax_cross_entropy_forward divides
}

// What stages split: an MLP's Linear layers, a GPT's transformer blocks.
int pipeline_units(const TaskConfig& task) {
  return task.is_gpt() ? task.gpt.layers : int(task.widths.size()) - 1;
}
std::string unit_name(const TaskConfig& task) { return task.is_gpt() ? "transformer block" : "Linear layer"; }

}  // namespace

PipelineLayout pipeline_layout(const TaskConfig& task, int stages, int replicas, int micro_batches) {
  const std::string p = "--pipeline " + std::to_string(stages);
  if (!task.exact)
    bad_input(p + ": the task is in fast mode, whose bits depend on how the batch is split; pipeline stages train "
                  "exact-mode tasks");
  const int L = pipeline_units(task);
  if (stages < 1 || stages > L || L % stages != 0)
    usage_error(p + ": the task's " + std::to_string(L) + " " + unit_name(task) + "(s) do not split into " +
                std::to_string(stages) + " stages of equal size");
  if (!power_of_two(replicas))
    usage_error("--data-parallel " + std::to_string(replicas) + ": the rank count must be a power of two (1, 2, 4, ...)");
  // Without a reduce chunk the stages continue each reduction's one chain across the
  // micro-batches (one replica: replicas would need the chunks' tree); with one, every
  // micro-batch is an aligned block of chunks.
  const bool chunked = task.reduce_chunk > 0;
  if (chunked || replicas > 1) {
    const std::string why = data_parallel_refusal(task, replicas);
    if (!why.empty()) bad_input(why);
  }
  const int64_t units = chunked ? task.batch / task.reduce_chunk / replicas : task.batch;  // a replica's
  if (micro_batches == 0) {
    micro_batches = 1;
    while (micro_batches * 2 <= std::min<int64_t>(units, 4 * stages) && units % (micro_batches * 2) == 0)
      micro_batches *= 2;
  }
  if (chunked && (!power_of_two(micro_batches) || units % micro_batches != 0))
    usage_error("--micro-batches " + std::to_string(micro_batches) + ": a replica's " + std::to_string(units) +
                " chunk(s) of " + std::to_string(task.reduce_chunk) + " samples do not split into " +
                std::to_string(micro_batches) + " micro-batches of whole chunks (a power of two that divides them)");
  if (!chunked && (micro_batches > units || units % micro_batches != 0))
    usage_error("--micro-batches " + std::to_string(micro_batches) + ": the batch of " + std::to_string(units) +
                " samples does not split into " + std::to_string(micro_batches) + " micro-batches of equal size");
  PipelineLayout lay;
  lay.stages = stages, lay.replicas = replicas, lay.micro_batches = micro_batches;
  for (int s = 0; s <= stages; s++) lay.first_layer.push_back(s * L / stages);
  for (int s = 0; s < stages; s++)
    for (int d = 0; d < replicas; d++) {
      lay.stage_of_rank.push_back(s);
      lay.replica_of_rank.push_back(d);
      lay.rank_at.push_back(s * replicas + d);
    }
  return lay;
}

PipelineLayout schedule_layout(const TaskConfig& task, const std::string& path, int stages, int replicas,
                               int micro_batches, int ranks) {
  const sched::PartitionFile f = sched::read_partition_file(path);
  const std::string what = "--schedule '" + path + "'";
  const int S = f.problem.work.stages, D = f.problem.work.data_parallel, L = pipeline_units(task);
  auto refuse = [&](const std::string& why) { bad_input(what + ": " + why); };
  if (stages > 0 && stages != S)
    refuse("a partition into " + std::to_string(S) + " stages, not --pipeline " + std::to_string(stages));
  if (replicas > 0 && replicas != D)
    refuse("a partition of " + std::to_string(D) + " data-parallel replica(s), not --data-parallel " +
           std::to_string(replicas));
  if (f.problem.n() != ranks)
    refuse("a partition of " + std::to_string(f.problem.n()) + " devices, for a job of " + std::to_string(ranks) +
           " rank(s)");
  if (S > L || L % S != 0)
    refuse("its " + std::to_string(S) + " stages do not split the task's " + std::to_string(L) + " " +
           unit_name(task) + "(s)");
  PipelineLayout lay = pipeline_layout(task, S, D, micro_batches);
  for (int s = 0; s < S; s++)
    for (int d = 0; d < D; d++) {
      const int rank = f.groups[size_t(s)][size_t(d)];
      lay.stage_of_rank[size_t(rank)] = s;
      lay.replica_of_rank[size_t(rank)] = d;
      lay.rank_at[size_t(s * D + d)] = rank;
    }
  return lay;
}

SessionSummary train_pipeline(const Ranks& r, const PipelineLayout& lay, Session& session,
                              const std::function<void(const Trainer&)>& on_step, std::vector<RankWire>* wire) {
  SessionSummary summary;
  Trainer& tr = session.trainer();
  if (tr.step >= session.task().steps) return summary;
  try {
    const int stage = lay.stage_of_rank[size_t(r.rank)], replica = lay.replica_of_rank[size_t(r.rank)];
    const Ranks replicas = split_ranks(r, stage, replica);
    const Ranks chain = split_ranks(r, replica, stage);
    Stage st(session.task(), lay, r, replicas, chain);
    // Rank 0 holds its own stage's state and loss (every replica of a stage holds the
    // same); the first replica of every other stage sends them.
    const int home = lay.stage_of_rank[0];
    const int last = home == lay.stages - 1 ? 0 : lay.rank_of(lay.stages - 1, 0);
    int64_t step_bytes = 0;
    while (tr.step < session.task().steps) {
      const int64_t before = bytes_sent();
      float loss = st.step(tr.ws, tr.context(tr.step));
      step_bytes += bytes_sent() - before;
      tr.step++;
      if (r.rank == last && last != 0) send_bytes(r, 0, kLossTag, floats_bytes(&loss, 1));
      if (r.rank == 0 && last != 0) bytes_floats(receive_bytes(r, last, kLossTag), &loss, 1, "loss");
      tr.loss = loss;
      if (session.checkpoint_due(tr.step)) {  // the stages' state, gathered on rank 0
        for (int s = 0; s < lay.stages; s++) {
          if (s == home) continue;
          const std::vector<int> ids = stage_state(tr.tape, lay, s);
          const int from = lay.rank_of(s, 0);
          if (r.rank == from) {
            std::vector<uint8_t> bytes;
            for (int id : ids) {
              const std::vector<uint8_t> b = floats_bytes(tr.ws[id], tr.tape.tensors[size_t(id)].size());
              bytes.insert(bytes.end(), b.begin(), b.end());
            }
            send_bytes(r, 0, kStateTag, std::move(bytes));
          } else if (r.rank == 0) {
            const std::vector<uint8_t> bytes = receive_bytes(r, from, kStateTag);
            int64_t n = 0;
            for (int id : ids) n += tr.tape.tensors[size_t(id)].size();
            std::vector<float> all(static_cast<size_t>(n));
            bytes_floats(bytes, all.data(), n, "stage " + std::to_string(s) + "'s state");
            const float* q = all.data();
            for (int id : ids) {
              std::copy(q, q + tr.tape.tensors[size_t(id)].size(), tr.ws[id]);
              q += tr.tape.tensors[size_t(id)].size();
            }
          }
        }
      }
      finish_sends();
      if (r.rank == 0) session.checkpoint();
      if (on_step) on_step(tr);
    }
    const RankWire mine{stage, replica, st.to_stages, step_bytes - st.to_stages};
    const auto* b = reinterpret_cast<const uint8_t*>(&mine);
    const std::vector<std::vector<uint8_t>> all = gather_bytes(r, std::vector<uint8_t>(b, b + sizeof mine), 0);
    if (wire && r.rank == 0)
      for (const std::vector<uint8_t>& w : all) {
        RankWire x;
        if (w.size() != sizeof x) internal_error("pipeline: a rank's wire count has " + std::to_string(w.size()) + " bytes");
        std::memcpy(&x, w.data(), sizeof x);
        wire->push_back(x);
      }
    if (r.rank == 0) summary = session.finish();
  } catch (const Error& e) {
    if (r.size == 1) throw;
    end_job(r, e);
  }
  return summary;
}

}  // namespace pw
