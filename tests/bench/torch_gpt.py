#!/usr/bin/python3
"""PyTorch baseline for tests/bench/part-gpt.sh: the GPT of a gpt task, on the CPU
(the model: tests/torch/gpt_model.py, nanoGPT's GPT, byte-level, vocabulary 256).

    torch_gpt.py speed --model gpt:L-H-C-T --batch B --text FILE [--threads N] [--steps S]
                       [--warmup W] [--repeats R] [optimizer flags] [--batches FILE]
    torch_gpt.py learn --model gpt:L-H-C-T --weights INIT.safetensors --batches FILE
                       --text FILE --val-text FILE [optimizer flags] [--steps N]
    torch_gpt.py eval  --model gpt:L-H-C-T --weights W.safetensors --val-text FILE

speed: W untimed warm-up steps, then R times S timed training steps from a fresh model
  (same seed), at torch.set_num_threads(N); OpenBLAS's threads are OPENBLAS_NUM_THREADS
  in the environment, which must be set before torch starts: run each thread setting as
  its own process. Batches are B windows of T+1 bytes of the text, inputs the first T
  and targets the last T, at offsets from --batches (pol-export --batches) or else
  uniform from --seed. Prints one JSON line: the setting, the best run's seconds,
  tokens_per_second (S*B*T / seconds) and steps_per_second, the first run's final loss
  and the SHA-256 of its final parameters, and every run.
learn: our exported initial weights (pol-export --checkpoint 0: nanoGPT's names, [out,
  in] layouts, lm_head.weight tied to transformer.wte.weight) trained on our batch order
  (pol-export --batches: per line the step, then the B window offsets into the text) with
  the task's optimizer, schedule and clipping (the same flags as pol-task), then the
  validation bits per byte: the mean cross-entropy (nats) over every full window of the
  validation text, divided by ln 2. The windows of a text of N bytes start at 0, T, 2T,
  ... while start + T + 1 <= N, so each byte after the first is predicted once, up to
  the last partial window. Prints one JSON line.
eval: the validation bits per byte of exported weights (the same windows), so that the
  evaluation can be compared apart from training.

Bad input (a missing or malformed file, shapes that are not the model's, an offset
outside the text) exits 3 with a message; usage errors exit 2. Needs Debian's
python3-torch and python3-numpy (use /usr/bin/python3).
"""
import argparse
import json
import math
import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import gpt_model  # noqa: E402
import torch_bench  # noqa: E402
from torch_bench import params_sha256, timed_runs  # noqa: E402

PROG = "torch_gpt.py"


class BadInput(Exception):
    pass


def read_text(path, what):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise BadInput("%s %s: %s" % (what, path, e.strerror))
    return torch.from_numpy(np.frombuffer(data, dtype=np.uint8).astype(np.int64))


def read_batches(path, batch, context, text_len):
    """pol-export --batches: '#' lines are provenance; each other line 'STEP OFF1 ... OFFB',
    steps 0, 1, 2, ... in order. Returns a list of int64 tensors of B offsets."""
    if text_len < context + 1:
        raise BadInput("text of %d bytes is shorter than a window of %d" % (text_len, context + 1))
    out = []
    try:
        f = open(path)
    except OSError as e:
        raise BadInput("batches %s: %s" % (path, e.strerror))
    with f:
        for n, line in enumerate(f, 1):
            if line.startswith("#") or not line.strip():
                continue
            try:
                fields = [int(x) for x in line.split()]
            except ValueError:
                raise BadInput("batches %s line %d: not whole numbers" % (path, n))
            if fields[0] != len(out):
                raise BadInput("batches %s line %d: step %d, expected %d" % (path, n, fields[0], len(out)))
            if len(fields) - 1 != batch:
                raise BadInput("batches %s line %d: %d offsets, batch is %d" % (path, n, len(fields) - 1, batch))
            if not all(0 <= o <= text_len - context - 1 for o in fields[1:]):
                raise BadInput("batches %s line %d: an offset outside [0, %d] (text of %d bytes, windows of %d)"
                               % (path, n, text_len - context - 1, text_len, context + 1))
            out.append(torch.tensor(fields[1:], dtype=torch.int64))
    if not out:
        raise BadInput("batches %s: no steps" % path)
    return out


def windows(text, offsets, context):
    """B windows of T+1 bytes at offsets -> inputs (B, T) and targets (B, T)."""
    w = torch.stack([text[o:o + context + 1] for o in offsets.tolist()])
    return w[:, :-1], w[:, 1:]


def read_safetensors(path):
    """A safetensors file of F32 tensors -> {name: tensor}."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise BadInput("weights %s: %s" % (path, e.strerror))
    try:
        n = struct.unpack("<Q", data[:8])[0]
        header = json.loads(data[8:8 + n])
        body = memoryview(data)[8 + n:]
        out = {}
        for name, h in header.items():
            if name == "__metadata__":
                continue
            if h["dtype"] != "F32":
                raise BadInput("weights %s: %s is %s, not F32" % (path, name, h["dtype"]))
            a, b = h["data_offsets"]
            count = math.prod(h["shape"])
            if b - a != 4 * count or b > len(body):
                raise BadInput("weights %s: %s's data offsets do not fit its shape or the file" % (path, name))
            out[name] = torch.frombuffer(bytearray(body[a:b]), dtype=torch.float32).view(h["shape"]).clone()
        return out
    except (struct.error, ValueError, KeyError, TypeError) as e:
        raise BadInput("weights %s: not a safetensors file (%s)" % (path, e))


def load_weights(model, path):
    tensors = read_safetensors(path)
    wte = tensors.get("transformer.wte.weight")
    head = tensors.pop("lm_head.weight", None)
    if head is not None and (wte is None or not torch.equal(head, wte)):
        raise BadInput("weights %s: lm_head.weight is not transformer.wte.weight (the head is tied)" % path)
    if wte is not None:
        tensors["lm_head.weight"] = wte
    want = {n: list(t.shape) for n, t in model.state_dict().items()}
    got = {n: list(t.shape) for n, t in tensors.items()}
    if want != got:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        shapes = sorted(n for n in set(want) & set(got) if want[n] != got[n])
        raise BadInput("weights %s are not this model's: missing %s, unexpected %s, other shapes %s"
                       % (path, missing[:3], extra[:3], shapes[:3]))
    model.load_state_dict(tensors, strict=True)


def lr_at(a, step):
    """pol-task --schedule (pol-task(1)): constant | step:SIZE[:GAMMA] | cosine[:WARMUP[:MIN_LR]]."""
    kind, *parts = a.schedule.split(":")
    if kind == "constant" and not parts:
        return a.lr
    if kind == "step" and 1 <= len(parts) <= 2:
        size, gamma = int(parts[0]), float(parts[1]) if len(parts) > 1 else 0.1
        return a.lr * gamma ** (step // size)
    if kind == "cosine" and len(parts) <= 2:
        warmup = int(parts[0]) if parts else 0
        min_lr = float(parts[1]) if len(parts) > 1 else 0.0
        if step < warmup:
            return a.lr * (step + 1) / warmup
        span = a.total_steps - warmup
        t = (step - warmup) / span if span > 0 else 1.0
        return min_lr + (a.lr - min_lr) * 0.5 * (1 + math.cos(math.pi * t))
    raise ValueError("--schedule %r: want constant, step:SIZE[:GAMMA] or cosine[:WARMUP[:MIN_LR]]" % a.schedule)


def make_optimizer(model, a):
    hp = dict(lr=a.lr, weight_decay=a.weight_decay, momentum=a.momentum, beta1=a.beta1, beta2=a.beta2,
              eps=a.eps)
    return gpt_model.make_optimizer(model, a.optimizer, hp)


def train(model, opt, a, text, offsets, steps):
    """steps optimizer steps on the batches at offsets[0..steps); returns the last loss."""
    loss = None
    for s in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(a, s)
        idx, targets = windows(text, offsets[s], a.context)
        loss = gpt_model.backward(model, opt, idx, targets)
        gpt_model.clip_and_step(model, opt, a.clip)
    return float(loss.item()) if loss is not None else float("nan")


def bits_per_byte(model, text, context, chunk=64):
    """Mean cross-entropy over the full windows at 0, T, 2T, ..., in bits per byte."""
    starts = list(range(0, len(text) - context, context))
    if not starts:
        raise BadInput("validation text of %d bytes is shorter than a window of %d" % (len(text), context + 1))
    total = 0.0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(starts), chunk):
            idx, targets = windows(text, torch.tensor(starts[i:i + chunk]), context)
            logits, _ = model(idx)
            ce = torch.nn.functional.cross_entropy(logits.reshape(-1, gpt_model.VOCAB), targets.reshape(-1),
                                                   reduction="sum")
            total += float(ce.double())
    model.train()
    return total / (len(starts) * context) / math.log(2), len(starts)


def setting(a):
    return dict(torch_bench.setting(a.threads), model=a.model, batch=a.batch)


def speed(a):
    text = read_text(a.text, "text")
    if len(text) < a.context + 1:
        raise BadInput("text %s of %d bytes is shorter than a window of %d" % (a.text, len(text), a.context + 1))
    n = max(a.steps, a.warmup)
    if a.batches:
        offsets = read_batches(a.batches, a.batch, a.context, len(text))
        offsets = [offsets[s % len(offsets)] for s in range(n)]
    else:
        rng = np.random.default_rng(a.seed)
        offsets = [torch.from_numpy(rng.integers(0, len(text) - a.context, a.batch)) for _ in range(n)]
    a.total_steps = a.steps

    def run(steps):
        torch.manual_seed(a.seed)
        model = gpt_model.GPT(a.layers, a.heads, a.channels, a.context)
        opt = make_optimizer(model, a)
        t0 = time.perf_counter()
        final = train(model, opt, a, text, offsets, steps)
        return time.perf_counter() - t0, final, model

    return dict(setting(a), mode="speed",
                **timed_runs(run, a.steps, a.warmup, a.repeats, tokens_per_step=a.batch * a.context))


def learn(a):
    text = read_text(a.text, "text")
    val = read_text(a.val_text, "validation text")
    offsets = read_batches(a.batches, a.batch, a.context, len(text))
    steps = a.steps or len(offsets)
    if steps > len(offsets):
        raise BadInput("batches %s: %d steps, --steps asks for %d" % (a.batches, len(offsets), steps))
    a.total_steps = a.task_steps or steps
    model = gpt_model.GPT(a.layers, a.heads, a.channels, a.context)
    load_weights(model, a.weights)
    initial, _ = bits_per_byte(model, val, a.context)
    opt = make_optimizer(model, a)
    t0 = time.perf_counter()
    final = train(model, opt, a, text, offsets, steps)
    secs = time.perf_counter() - t0
    bpb, nwin = bits_per_byte(model, val, a.context)
    return dict(setting(a), mode="learn", steps=steps, seconds=secs, final_loss=final,
                initial_val_bits_per_byte=initial, val_bits_per_byte=bpb, val_windows=nwin,
                params_sha256=params_sha256(model))


def evaluate(a):
    val = read_text(a.val_text, "validation text")
    model = gpt_model.GPT(a.layers, a.heads, a.channels, a.context)
    load_weights(model, a.weights)
    bpb, nwin = bits_per_byte(model, val, a.context)
    return dict(setting(a), mode="eval", val_bits_per_byte=bpb, val_windows=nwin)


def main():
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", required=True, help="gpt:LAYERS-HEADS-CHANNELS-CONTEXT")
    common.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    common.add_argument("--batch", type=int, default=8)
    common.add_argument("--seed", type=int, default=1)
    opt = argparse.ArgumentParser(add_help=False)
    opt.add_argument("--optimizer", choices=["adamw", "sgd"], default="adamw")
    opt.add_argument("--lr", type=float, default=1e-3)
    opt.add_argument("--momentum", type=float, default=0.0)
    opt.add_argument("--weight-decay", type=float, default=0.0)
    opt.add_argument("--beta1", type=float, default=0.9)
    opt.add_argument("--beta2", type=float, default=0.999)
    opt.add_argument("--eps", type=float, default=1e-8)
    opt.add_argument("--clip", type=float, default=0.0, help="gradient-norm clipping (0 = none)")
    opt.add_argument("--schedule", default="constant")
    sp = sub.add_parser("speed", parents=[common, opt], help="training tokens/s at one thread setting")
    sp.add_argument("--text", required=True)
    sp.add_argument("--batches", help="pol-export --batches output (default: offsets from --seed)")
    sp.add_argument("--steps", type=int, default=20)
    sp.add_argument("--warmup", type=int, default=3)
    sp.add_argument("--repeats", type=int, default=1)
    lp = sub.add_parser("learn", parents=[common, opt], help="train from our weights and batches, then bits/byte")
    lp.add_argument("--weights", required=True)
    lp.add_argument("--batches", required=True)
    lp.add_argument("--text", required=True)
    lp.add_argument("--val-text", required=True)
    lp.add_argument("--steps", type=int, default=0, help="steps to train (default: every line of --batches)")
    lp.add_argument("--task-steps", type=int, default=0,
                    help="the task's step count, for the cosine schedule (default: --steps)")
    ep = sub.add_parser("eval", parents=[common], help="bits/byte of exported weights on the validation text")
    ep.add_argument("--weights", required=True)
    ep.add_argument("--val-text", required=True)
    a = ap.parse_args()
    try:
        a.layers, a.heads, a.channels, a.context = gpt_model.parse_config(a.model)
    except ValueError as e:
        ap.error(str(e))
    for name in ("threads", "batch") + (("steps", "repeats") if a.mode == "speed" else ()):
        if getattr(a, name) < 1:
            ap.error("--%s must be at least 1" % name)
    if a.mode != "eval":
        try:  # a bad --schedule is a usage error
            lr_at(argparse.Namespace(**vars(a), total_steps=1), 0)
        except (ValueError, ZeroDivisionError) as e:
            ap.error("--schedule %r: %s" % (a.schedule, e))
    torch.set_num_threads(a.threads)
    try:
        out = {"speed": speed, "learn": learn, "eval": evaluate}[a.mode](a)
    except BadInput as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 3
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
