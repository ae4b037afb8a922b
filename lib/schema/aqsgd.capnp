# AQ-SGD streams (proofwork(7), AQ-SGD; proofwork-files(5), ACTIVATION STREAMS; man aqsgd-pack).
#
# A stream is a sequence of Cap'n Proto messages (standard stream framing: segment
# table, then segments), each an `AqsgdRecord`. Both kinds of stream start with a header
# and end with a trailer, so that a truncated stream is an error and not a shorter
# one (as htslib's BGZF EOF block):
#
#   activation stream:  header? activations* trailer?   (what `aqsgd-pack` reads;
#                        header and trailer are optional for writers in other languages,
#                        and always written by `aqsgd-pack -d`)
#   packed stream:      header packed* trailer          (header and trailer required)
#
# Print one with:  capnp convert binary:json aqsgd.capnp AqsgdRecord < FILE  (first record)
# or `aqsgd-pack --inspect FILE`. Rules as in proofwork.capnp: fields are only added
# with new ordinals, and readers validate every size in code (exit status 3).

@0xab999fbde017c75f;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("pw::schema");

enum AqsgdKind {
  activations @0;   # fp32 rows tagged with sample ids
  aqsgd @1;         # AQ-SGD: Q(a - m(sample)) against per-sample state
  direct @2;        # direct quantization Q(a), no state (backward gradients)
}

enum AqsgdRounding {
  nearest @0;       # round half to even: deterministic
  stochastic @1;    # floor(x + u), u from Philox keyed by (seed, sample id, round, element)
}

struct AqsgdHeader {
  magic @0 :Text;               # "proofwork-aqsgd"
  version @1 :UInt32;           # 3 (2: no rotation or scale tiles, read as 3 with both 0; 1: the old grid,
                                #    L = 2^(B-1) - 1 levels a side, refused when packed)
  kind @2 :AqsgdKind;
  bits @3 :UInt8;               # 2, 3, 4 or 8 (packed streams)
  rounding @4 :AqsgdRounding;
  seed @5 :UInt64;              # stochastic rounding's key, and the rotation's signs
  zstd @6 :Bool;                # codes are zstd-compressed per batch
  cols @7 :UInt32;              # channels per row
  stateId @8 :Data;             # aqsgd: 16 bytes naming the state's layout (cols, capacity, policy)
  firstGeneration @9 :UInt64;   # aqsgd: the state generation the first batch expects
  program @10 :Text;            # provenance
  programVersion @11 :Text;
  commandLine @12 :Text;
  capacity @13 :UInt64;         # aqsgd: the state's capacity (samples), so the receiver creates the same
  evict @14 :Bool;              # aqsgd: the state's policy when full: evict (true) or refuse
  rotateTile @15 :UInt32;       # 0: no rotation; else each coded row is rotated by random-sign
                                # Hadamard tiles of this size (a power of two) before quantizing
  scaleTile @16 :UInt32;        # 0: a scale per channel over the batch; else a scale per this many
                                # channels of each coded row (a power of two)
}

# One batch of activations: rows x cols fp32, little-endian, row-major.
struct AqsgdActivations {
  sampleIds @0 :List(UInt64);   # one per row
  cols @1 :UInt32;
  data @2 :Data;                # rows * cols * 4 bytes
}

# One batch packed. Rows seen for the first time (or again after eviction) travel at
# full precision in `fullRows`; the others as B-bit codes of their change since the
# stored m(sample), in row order.
struct AqsgdPacked {
  generation @0 :UInt64;        # aqsgd: the state generation this batch expects
  sampleIds @1 :List(UInt64);
  full @2 :List(Bool);          # aqsgd: row travels at full precision
  cols @3 :UInt32;
  scales @4 :List(Float32);     # per channel: max |x| over the coded rows; with scaleTile S: per coded
                                # row, per S channels, max |x| there (rows x ceil(cols/S), row-major)
  codes @5 :Data;               # coded rows, each ceil(cols/8)*bits bytes (zstd if header.zstd)
  fullRows @6 :Data;            # full rows, cols * 4 bytes each
  codesSize @7 :UInt64;         # uncompressed size of codes
  rounds @8 :List(UInt32);      # aqsgd: per row, the update count of m(sample) after this batch
}

struct AqsgdTrailer {
  batches @0 :UInt64;
  rows @1 :UInt64;
  lastGeneration @2 :UInt64;    # aqsgd: the state generation after the last batch
}

struct AqsgdRecord {
  union {
    header @0 :AqsgdHeader;
    activations @1 :AqsgdActivations;
    packed @2 :AqsgdPacked;
    trailer @3 :AqsgdTrailer;
  }
}
