# proofwork file formats (proofwork-files(5)).
#
# Every file written by a proofwork program is one Cap'n Proto message of a
# struct below, unpacked, or its JSON form (capnp's JSON codec; every reader
# accepts both, telling them apart by the first non-blank byte being '{').
# Print any binary file with:
#   capnp convert binary:json $PREFIX/share/proofwork/schema/proofwork.capnp Task < task.pwt
# or simply: pol-show task.pwt
#
# Rules: fields are only ever added with new ordinals; nothing is "required"
# at the schema level -- every reader validates sizes, shapes and hashes in
# code (lib/io/message.cpp and the per-file loaders) and maps violations to
# exit status 3.

@0x9a3d3553cf13c111;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("pw::schema");
using Json = import "/capnp/compat/json.capnp";

# Who wrote a file: samtools' @PG line.
struct Provenance {
  program @0 :Text;
  version @1 :Text;
  commandLine @2 :Text;
}

enum Mode {
  exact @0;   # bitwise reproducible on any thread count and device
  fast @1;    # fastest available order; verified against profiled tolerances
}

# One IDX file of a dataset.
struct DataFile {
  path @0 :Text;       # as given by the submitter; readers may relocate it with --data-dir
  hash @1 :Data $Json.hex;       # BLAKE2b-256 of the decompressed IDX bytes (so .gz or not: same hash)
}

# A dataset is a union (proofwork-files(5), TASK): IDX images and labels (format "idx",
# trainImages..inputScale) or a text (format "text", the `text` field). An IDX task
# has the union's first member set, which encodes as before the union existed.
struct Dataset {
  format @0 :Text;          # "idx" or "text"
  union {
    trainImages @1 :DataFile;
    text @12 :TextData;     # format "text": a byte-level language model's corpus
  }
  trainLabels @2 :DataFile;
  testImages @3 :DataFile;  # optional: empty path when absent
  testLabels @4 :DataFile;
  count @5 :UInt32;         # training samples
  rows @6 :UInt32;
  cols @7 :UInt32;
  classes @8 :UInt32;
  contentHash @9 :Data $Json.hex;     # BLAKE2b-256(trainImages.hash || trainLabels.hash)
  sampleRoot @10 :Data $Json.hex;     # Merkle root over leaves BLAKE2b-256(image bytes || label byte)
  inputScale @11 :Float32 = 0.00392156862745098;  # input = pixel * inputScale (default 1/255)
}

# A model is a union (proofwork(7), THE GPT): an MLP (kind "mlp", its widths) or a
# GPT (kind "gpt"). An MLP task has the union's first member set, which encodes as
# before the union existed.
struct Model {
  kind @0 :Text;               # "mlp" or "gpt"
  union {
    widths @1 :List(UInt32);   # mlp: layer widths, input first: 784,1024,1024,10
    gpt @3 :GptModel;
  }
  activation @2 :Text;         # "relu", between Linear layers (mlp); "gelu_tanh" (gpt)
}

# A GPT-2-style byte-level language model (proofwork(7), THE GPT).
struct GptModel {
  layers @0 :UInt32;
  heads @1 :UInt32;            # divides channels
  channels @2 :UInt32;
  context @3 :UInt32;          # T: every batch row is a window of T + 1 bytes
  vocab @4 :UInt32;            # 256: one token per byte
}

# The text of a language-model task: the training text and, optionally, a validation
# text, each committed by its BLAKE2b-256 and length (proofwork-files(5), TASK).
struct TextData {
  train @0 :DataFile;          # hash: BLAKE2b-256 of the file's bytes
  length @1 :UInt64;           # bytes
  validation @2 :DataFile;     # optional: empty path when absent
  validationLength @3 :UInt64;
}

enum OptimizerKind {
  sgd @0;
  adamw @1;
}

struct Optimizer {
  kind @0 :OptimizerKind;
  lr @1 :Float64;
  momentum @2 :Float64;        # sgd
  weightDecay @3 :Float64;
  beta1 @4 :Float64 = 0.9;     # adamw
  beta2 @5 :Float64 = 0.999;
  eps @6 :Float64 = 1e-8;
}

enum ScheduleKind {
  constant @0;
  step @1;          # lr * gamma^floor(step / stepSize)
  cosine @2;        # linear warm-up over warmupSteps, then cosine from lr to minLr
}

struct Schedule {
  kind @0 :ScheduleKind;
  stepSize @1 :UInt32;
  gamma @2 :Float64 = 0.1;
  warmupSteps @3 :UInt32;
  minLr @4 :Float64;
}

struct Task {
  formatVersion @0 :UInt32;
  model @1 :Model;
  dataset @2 :Dataset;
  optimizer @3 :Optimizer;
  schedule @4 :Schedule;
  batch @5 :UInt32;
  steps @6 :UInt32;
  checkpointEvery @7 :UInt32;
  seed @8 :UInt64;
  mode @9 :Mode;
  budgetFlops @10 :Float64;    # 6 * batch * sum(in * out) * steps (matmul FLOPs); 0: derive it, else it must be this
  provenance @11 :Provenance;
  cut @12 :Cut;                # absent: no pipeline cut (the task hashes as before the field existed)
  clip @13 :Float64;           # gradient-norm clipping's max norm; 0: none (the task hashes as before)
  reduceChunk @14 :UInt32;     # exact mode: the batch reductions in chunks of this many samples and a
                               # pairwise tree over them (proofwork(7), EXACT MODE); 0: one chain
}

# A pipeline cut (proofwork(7), AQ-SGD): the MLP is split after hidden layer `layer`
# (1 = the activation after the first Linear+ReLU; 1 <= layer <= Linear layers - 1).
# The forward activation crosses it through AQ-SGD with `forwardBits` bits (a per-sample
# buffer m(sample), part of every checkpoint), the backward gradient through direct
# quantization with `backwardBits` bits. Deterministic rounding (half to even); per-channel
# max-abs scales s over the batch; the reference implementation's grid of 2^B levels:
# q · s/2^(B-1) with q ∈ [-2^(B-1), 2^(B-1) - 1]. Bits: 2, 3, 4 or 8.
struct Cut {
  layer @0 :UInt32;
  forwardBits @1 :UInt32;
  backwardBits @2 :UInt32;
  rotateTile @3 :UInt32;       # forward: rotate the change by random-sign Hadamard tiles of this size first
                               # (a power of two, signs keyed by the task's seed); 0 or absent: no rotation
  scaleTile @4 :UInt32;        # forward: a scale per this many channels of each row (a power of two);
                               # 0 or absent: per-channel scales over the batch. Both absent: the task
                               # hashes as before these fields existed
}

enum DType {
  f32 @0;
  u32 @1;
}

enum Codec {
  raw @0;
  zstdShuffle @1;   # bytes split into planes (byte 0 of every element, then byte 1, ...) then zstd
}

# A bulk tensor: chunked so no Data blob nears Cap'n Proto's 512 MiB limit.
struct Tensor {
  name @0 :Text;               # state-dict names: "0.weight", "0.bias"; optimizer state "0.weight.momentum_buffer", ".exp_avg", ".exp_avg_sq"
  dtype @1 :DType;
  shape @2 :List(UInt64);
  codec @3 :Codec;
  chunkElems @4 :UInt64;       # elements per chunk (the last may hold fewer)
  chunks @5 :List(Data);          # in JSON: arrays of byte values
  hash @6 :Data $Json.hex;               # BLAKE2b-256 of the raw little-endian element bytes
}

struct Checkpoint {
  formatVersion @0 :UInt32;
  taskHash @1 :Data $Json.hex;
  step @2 :UInt32;             # steps completed
  rngPosition @3 :UInt64;      # the Philox counter base of the next step (= step: counter-based RNG)
  tensors @4 :List(Tensor);    # weights, then optimizer state
  stateHash @5 :Data $Json.hex;          # see lib/proof: over step and every tensor's name, shape, hash
}

struct CheckpointRef {
  step @0 :UInt32;
  file @1 :Text;               # relative name inside the proof directory, no '/'
  stateHash @2 :Data $Json.hex;
  fileHash @3 :Data $Json.hex;           # BLAKE2b-256 of the file's bytes
  fileBytes @4 :UInt64;
}

struct Environment {
  provenance @0 :Provenance;
  host @1 :Text;
  threads @2 :UInt32;
  device @3 :Text;
  startedAt @4 :Text;
  fastPanel @5 :UInt32;            # fast mode: the GEMM panel trained with (0: not recorded, the default 256)
}

struct Manifest {
  formatVersion @0 :UInt32;
  taskHash @1 :Data $Json.hex;
  environment @2 :Environment;
  checkpoints @3 :List(CheckpointRef);  # step 0 (initial weights) first
  root @4 :Data $Json.hex;                        # Merkle root over the checkpoints' state hashes
  complete @5 :Bool;                    # false while training is under way
  batchOrder @6 :Tensor;                # u32 [steps, batch]: sample indices of every step
  finalLoss @7 :Float32;
  testAccuracy @8 :Float32 = -1;        # -1 when no test set was named
  losses @9 :List(Float32);             # the solver's claim, not under the root: the loss of every
                                        # step run so far, step 0 first (absent in older proofs)
}

enum Selection {
  all @0;
  beacon @1;
  topQ @2;
  structure @3;    # checks before replay: task, dataset, batch order, init, Merkle root
}

struct SegmentResult {
  index @0 :UInt32;          # segment i runs checkpoint i -> checkpoint i+1
  startStep @1 :UInt32;
  endStep @2 :UInt32;
  why @3 :Selection;
  expected @4 :Data $Json.hex;         # claimed state hash at endStep
  replayed @5 :Data $Json.hex;         # state hash obtained by replay
  ok @6 :Bool;
  reason @7 :Text;
  updateNorm @8 :Float64;    # l2 norm of the weight change over the segment
  seconds @9 :Float64;
  distances @10 :Distances;  # fast mode: replayed vs claimed end state
  thresholds @11 :Distances; # fast mode: the thresholds applied to this segment (the profile's,
                             # plus one sample's share of its update); absent in older verdicts
  flagged @12 :UInt64;       # fast mode (format 2): pre-activations the replay found within the
                             # profile's flipMargin of zero; the flips' bound is in thresholds
  # Rule flipSpan (format 3): ‖projection of the residual on the flips' span‖₂ (model) and
  # its bound; distances are then the residual's rest, thresholds what the rest is held to.
  flipSpan @13 :Float64;
  flipSpanBound @14 :Float64;
}

struct Verdict {
  formatVersion @0 :UInt32;
  taskHash @1 :Data $Json.hex;
  proofRoot @2 :Data $Json.hex;
  accepted @3 :Bool;
  reason @4 :Text;           # the first failure, or "N of M segments replayed, all equal"
  firstBadSegment @5 :Int32 = -1;
  segments @6 :List(SegmentResult);
  beacon @7 :Text;
  provenance @8 :Provenance;
  replaySeconds @9 :Float64;
  checkSeconds @10 :Float64; # hashing and I/O outside replay
  mode @11 :Mode;            # of the task: exact compares hashes, fast distances
  profileHash @12 :Data $Json.hex;  # fast mode: the profile used
  shard @13 :UInt32;         # this verdict covers the selected segments at positions ≡ shard (mod shards)
  shards @14 :UInt32 = 1;
  selected @15 :List(UInt32);  # every segment the selection chose (all shards together)
  detection @16 :Detection;
  merged @17 :UInt32;        # pol-verify --merge: how many shard verdicts were combined
  # Fast mode (format 2): the directional test over the replayed segments (this shard's),
  # model-wide: ‖Σ (claimed − replayed)‖₂, its bound √(Σ l2 threshold²), and the mean
  # cosine between consecutive segments' residuals.
  residualSum @18 :Float64;
  residualBound @19 :Float64;
  alignment @20 :Float64;
}

enum BisectLevel {
  checkpoint @0;   # over the checkpoint list (both manifests' state hashes)
  step @1;         # over the steps of the first disputed interval (state hashes)
  op @2;           # over the ops of the first disputed step (hash chain of op records)
}

# One round of bisection: both sides' hashes at one probe.
struct Round {
  level @0 :BisectLevel;
  lo @1 :UInt32;        # the last position both sides agree on
  hi @2 :UInt32;        # the first position known to differ
  probe @3 :UInt32;
  hashA @4 :Data $Json.hex;
  hashB @5 :Data $Json.hex;
  agree @6 :Bool;
  anchor @7 :UInt32;    # the agreed checkpoint the answers were computed from
  step @8 :UInt32;      # op level: the traced step
  proofA @9 :List(Data);  # checkpoint level: Merkle inclusion path of hashA under rootA (leaf up)
  proofB @10 :List(Data); # the same for hashB under rootB (proofwork-files(5), DISPUTE)
}

enum Winner {
  a @0;
  b @1;
  neither @2;
  both @3;     # fast mode: each side's answer within the profile's replay noise
}

# pol-bisect's transcript and ruling (proofwork-files(5), DISPUTE): everything the referee needs to
# recompute the pinpointed op alone, except, for the load_batch op, the dataset.
struct Dispute {
  formatVersion @0 :UInt32;
  task @1 :Task;                   # embedded, so a dispute replays on its own
  taskHash @2 :Data $Json.hex;
  rootA @3 :Data $Json.hex;        # the two proofs' Merkle roots
  rootB @4 :Data $Json.hex;
  rounds @5 :List(Round);
  roundBound @6 :UInt32;           # ⌈log2 C⌉ + ⌈log2 k⌉ + ⌈log2 ops⌉ + 2
  step @7 :UInt32;                 # the disputed step (0-based)
  opIndex @8 :UInt32;              # its index on the tape
  opKind @9 :Text;
  opLayer @10 :Int32;
  inputNames @11 :List(Text);
  inputHashes @12 :List(Data);     # agreed by both sides
  inputs @13 :List(Tensor);        # supplied by side A, checked against inputHashes
  outputHashA @14 :Data $Json.hex; # over all the op's outputs
  outputHashB @15 :Data $Json.hex;
  outputsA @16 :List(Tensor);
  outputsB @17 :List(Tensor);
  refereeHash @18 :Data $Json.hex;
  winner @19 :Winner;
  provenance @20 :Provenance;
  complete @21 :Bool;              # false while a two-party exchange (pol-bisect play) is under way
  inputHashesB @22 :List(Data);    # side B's view of the op's inputs (must equal side A's)
  # A step-level ruling (no op pinpointed: both sides compute `step` alike, a claimed state
  # after it is not its side's computation): what the referee recomputes the step from.
  stateBefore @23 :List(Tensor);   # the agreed state before `step` (checkpoint tensors, in order)
  batch @24 :List(Tensor);         # what load_batch produced in that step (bound by the agreed op chain)
  basis @25 :Text;                 # how the ruling was reached, for people
  manifestA @26 :Manifest;         # the sides' manifests, exchanged (their roots are rootA, rootB)
  manifestB @27 :Manifest;
  # Fast mode (format version 3): the verifier's profile the ruling used, each side's
  # declared kernel, the ruling's measurements, and at a step-level ruling the states the
  # sides claimed after the step (proofwork-files(5), DISPUTE).
  profile @28 :Profile;
  kernelA @29 :DisputeKernel;
  kernelB @30 :DisputeKernel;
  fastRuling @31 :FastRuling;
  claimedA @32 :List(Tensor);
  claimedB @33 :List(Tensor);
}

# A side's declared kernel in a fast-mode dispute (from its manifest's environment).
struct DisputeKernel {
  panel @0 :UInt32;     # the GEMM panel
  threads @1 :UInt32;
}

# A fast-mode ruling's measurements, as the writer found them ('pol-bisect replay'
# recomputes them from the file and never takes these).
struct FastRuling {
  noise @0 :Distances;       # op level: the spread of the op's outputs over the profile's CPU sources
  thresholds @1 :Distances;  # op level: factor x noise + floor; step level: the profile's
  distanceA @2 :Distances;   # side A's claim from the referee's recomputation under A's kernel
  distanceB @3 :Distances;
  distanceAB @4 :Distances;  # the two claims from each other
  sources @5 :UInt32;
  standsA @6 :Bool;
  standsB @7 :Bool;
}

# Distances between two states (proofwork-files(5), PROFILE), computed in double over float32 values:
# one entry per tensor (parameters, then optimizer state, in checkpoint order) and a
# last entry "model" over all of them together. cosine is 1 − cos(angle).
struct Distances {
  names @0 :List(Text);
  l1 @1 :List(Float64);
  l2 @2 :List(Float64);
  linf @3 :List(Float64);
  cosine @4 :List(Float64);
}

# One replay the profile measured: segment `segment` replayed from its claimed start
# under `source` and compared with `against` (the claimed end, or another source's replay).
struct Measurement {
  segment @0 :UInt32;
  source @1 :Text;       # "fast threads=2 panel=64", "exact", ...
  against @2 :Text;      # "claimed" or another source
  distances @3 :Distances;
}

# pol-profile's output: tolerance thresholds for fast-mode proofs, and the
# measurements they were derived from (so anyone can re-derive them).
struct Profile {
  formatVersion @0 :UInt32;
  taskClass @1 :Data $Json.hex;    # BLAKE2b of the task with seed and provenance cleared:
                                   # the profile serves proofs of the task under any seed
  taskHash @2 :Data $Json.hex;     # the task profiled
  proofRoot @3 :Data $Json.hex;    # the proof replayed
  rule @4 :Text;                   # how thresholds follow from measurements (pol-profile(1))
  factor @5 :Float64;              # threshold = factor · max(measured) + floor
  floorRel @6 :Float64;            # floor = floorRel · the claimed end state's own norm
  thresholds @7 :Distances;
  measurements @8 :List(Measurement);
  sources @9 :List(Text);
  segments @10 :List(UInt32);      # the segments replayed
  segmentSteps @11 :UInt32;
  secondsPerStep @12 :Float64;     # replay cost, fast mode at the profiler's default setting
  flopsPerStep @13 :Float64;       # static: 6 · batch · Σ in·out
  budgetFlops @14 :Float64;        # the task's declared budget (checked: = flopsPerStep · steps)
  profileFlops @15 :Float64;       # the work this profile did
  updateRatioMin @16 :Float64;     # over the segments replayed: ‖Δw‖₂ / Σ lr (plausibility)
  updateRatioMax @17 :Float64;
  stochasticOps @18 :UInt32;       # ops with randomness inside a step (re-run with other seeds); 0 for the MLP
  provenance @19 :Provenance;
  sampleShare @20 :Float64;        # rule sampleShare: at verification each threshold also allows sampleShare ·
                                   # (the replayed update of the tensor over the segment) / batch
  thresholdRule @21 :ThresholdRule;  # format 1 profiles: sampleShare
  flipMargin @22 :Float64;         # rule observed: |z| ≤ flipMargin · (‖x_b‖₂‖W_u‖₂ + |bias_u|) may flip
  flipMeasured @23 :Float64;       # the largest such ratio |Δz| / scale measured between the sources
  alignmentMax @24 :Float64;       # rule observed: the largest mean consecutive alignment accepted
}

# How pol-verify turns a profile into a segment's thresholds (pol-profile(1)).
enum ThresholdRule {
  sampleShare @0;   # the profile's thresholds plus a blanket share of the update (format 1)
  observed @1;      # plus bounds for the flips the replay observes, and the directional test
  flipSpan @2;      # (format 3) observed, with the flips' bound granted only in the span of
                    # their own vectors; the rest of the residual held to the thresholds
}

# What a sample of q of C segments can catch (printed by pol-verify).
struct Detection {
  total @0 :UInt32;          # C segments
  replayed @1 :UInt32;       # q
  forgedFraction @2 :Float64;  # f the figures are for (0.1 unless --assume-forged)
  pDetectBound @3 :Float64;  # 1 − (1 − f)^q: independent draws (a lower bound)
  pDetect @4 :Float64;       # without replacement (hypergeometric), f·C forged segments
  replayedFor99 @5 :UInt32;  # smallest q with pDetect ≥ 0.99
}
