#!/usr/bin/python3
"""Regenerates tests/fixtures/torch/gpt_adamw.bin and gpt_sgd.bin: the outside reference
(proofwork(7), TESTS AND BENCHMARKS) for the GPT of gpt tasks, as the MLP's
make_fixtures.py is for the MLP; or, with --check, re-reads the committed files and checks
them.

    /usr/bin/python3 tests/torch/make_gpt_fixtures.py          # regenerate (needs torch)
    python3 tests/torch/make_gpt_fixtures.py --check [FILE...] # check (standard library)
    /usr/bin/python3 tests/torch/make_gpt_fixtures.py --check --rerun
        # also regenerate and compare bit for bit (needs torch; OpenBLAS's kernels
        # differ between CPUs, so other bits elsewhere need not mean a bug)

The model is gpt_model.GPT (nanoGPT's GPT; see there) with 2 layers, 2 heads, 32
channels, context 16, in float32; batch 4 windows of 17 bytes (inputs the first 16,
targets the last 16), a fresh batch each of 5 steps. Initialisation is torch's (normal
0.02, the c_proj weights 0.02/sqrt(2*layers), as nanoGPT), then every bias and LayerNorm
parameter is perturbed by normal(0, 0.02), so that a bug that ignores one shows.
Parameter groups as nanoGPT: weight decay on parameters of dim >= 2 only.
  gpt_adamw.bin: AdamW lr 1e-3, betas (0.85, 0.98), eps 1e-8, weight decay 0.1, gradient
                 clipping to total norm 1.0 by torch's rule (every gradient times
                 min(1, 1.0 / (norm + 1e-6))), which acts in every one of the 5 steps
                 (norms 1.23 to 1.74; acting in at least one is asserted);
  gpt_sgd.bin:   SGD lr 0.05, momentum 0.9 (dampening 0, no Nesterov), weight decay 1e-3,
                 no clipping.

File format: the PWTR container of pwtr.py. Records:
  config.layers, config.heads, config.channels, config.context, config.vocab, batch,
  steps                           i32 scalars
  hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weight_decay, hp.clip (AdamW) or
  hp.lr, hp.momentum, hp.weight_decay, hp.clip (SGD)   f64 scalars; hp.clip 0 = none
  init.<name>        every parameter before step 0, named as nanoGPT in nn.Linear's
                     [out, in] layout (named_parameters order: transformer.wte.weight
                     [V,C], transformer.wpe.weight [T,C], transformer.h.{i}.ln_1.weight,
                     ...; lm_head.weight is tied to wte: no record of its own)
  step<s>.idx        i32 [B,T] input bytes of step s
  step<s>.targets    i32 [B,T] (each row is its idx row shifted by one byte)
  step<s>.loss       f32 scalar, mean cross-entropy over the B*T positions before step s
  step<s>.grad_norm  f32 scalar, total gradient L2 norm before clipping
  step<s>.grad.<name>   gradient of each parameter at step s (before clipping)
  step<s>.param.<name>  each parameter after step s's update
"""
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pwtr  # noqa: E402

LAYERS, HEADS, CHANNELS, CONTEXT, VOCAB = 2, 2, 32, 16, 256
BATCH = 4
STEPS = 5
SEED = 20261206
PERTURB = 0.02

HP = {
    "adamw": dict(lr=1e-3, beta1=0.85, beta2=0.98, eps=1e-8, weight_decay=0.1, clip=1.0),
    "sgd": dict(lr=0.05, momentum=0.9, weight_decay=1e-3, clip=0.0),
}
HINT = ("proofwork PyTorch reference fixture (GPT); regenerate: "
        "/usr/bin/python3 tests/torch/make_gpt_fixtures.py (torch %s)\n")
OUT = os.path.join(HERE, "..", "fixtures", "torch")


def fixture_path(kind):
    return os.path.join(OUT, "gpt_%s.bin" % kind)


def param_shapes():
    """nanoGPT's parameter names and shapes, in named_parameters order."""
    C, T = CHANNELS, CONTEXT
    shapes = [("transformer.wte.weight", [VOCAB, C]), ("transformer.wpe.weight", [T, C])]
    for i in range(LAYERS):
        b = "transformer.h.%d." % i
        shapes += [(b + "ln_1.weight", [C]), (b + "ln_1.bias", [C]),
                   (b + "attn.c_attn.weight", [3 * C, C]), (b + "attn.c_attn.bias", [3 * C]),
                   (b + "attn.c_proj.weight", [C, C]), (b + "attn.c_proj.bias", [C]),
                   (b + "ln_2.weight", [C]), (b + "ln_2.bias", [C]),
                   (b + "mlp.c_fc.weight", [4 * C, C]), (b + "mlp.c_fc.bias", [4 * C]),
                   (b + "mlp.c_proj.weight", [C, 4 * C]), (b + "mlp.c_proj.bias", [C])]
    return shapes + [("transformer.ln_f.weight", [C]), ("transformer.ln_f.bias", [C])]


# ------------------------------------------------------------------ generation (torch)

def make_model():
    import torch
    from gpt_model import GPT

    torch.manual_seed(SEED)
    model = GPT(LAYERS, HEADS, CHANNELS, CONTEXT).float()
    g = torch.Generator().manual_seed(SEED + 2)
    with torch.no_grad():
        for _, p in model.named_parameters():
            if p.dim() == 1:  # biases and LayerNorm weights and biases
                p.add_(PERTURB * torch.randn(p.shape, generator=g))
    return model


def make_batches():
    """STEPS batches of BATCH windows of CONTEXT + 1 bytes. The bytes are skewed towards
    lowercase letters and space, like text, so the first steps have gradients large
    enough for clipping to act."""
    import torch

    g = torch.Generator().manual_seed(SEED + 1)
    weights = torch.ones(VOCAB)
    weights[ord("a"):ord("z") + 1] = 40.0
    weights[ord(" ")] = 200.0
    windows = [torch.multinomial(weights, BATCH * (CONTEXT + 1), replacement=True, generator=g)
               .view(BATCH, CONTEXT + 1) for _ in range(STEPS)]
    return [(w[:, :-1].contiguous(), w[:, 1:].contiguous()) for w in windows]


def generate(kind):
    """The fixture's records for optimizer kind (a pwtr.Writer)."""
    import gpt_model

    hp = HP[kind]
    model = make_model()
    names = [n for n, _ in model.named_parameters()]
    assert [(n, list(p.shape)) for n, p in model.named_parameters()] == param_shapes(), names
    opt = gpt_model.make_optimizer(model, kind, hp)
    w = pwtr.Writer(HINT)
    for key, value in (("config.layers", LAYERS), ("config.heads", HEADS), ("config.channels", CHANNELS),
                       ("config.context", CONTEXT), ("config.vocab", VOCAB), ("batch", BATCH),
                       ("steps", STEPS)):
        w.add(key, value, "i32")
    for key, value in hp.items():
        w.add("hp." + key, value, "f64")
    for name, p in model.named_parameters():
        w.add("init." + name, p, "f32")
    clipped = 0
    for s, (idx, targets) in enumerate(make_batches()):
        w.add("step%d.idx" % s, idx, "i32")
        w.add("step%d.targets" % s, targets, "i32")
        loss = gpt_model.backward(model, opt, idx, targets)
        grads = [(name, p.grad.detach().clone()) for name, p in model.named_parameters()]
        norm = gpt_model.clip_and_step(model, opt, hp["clip"])
        clipped += hp["clip"] > 0 and float(norm) > hp["clip"]
        w.add("step%d.loss" % s, loss, "f32")
        w.add("step%d.grad_norm" % s, norm, "f32")
        for name, grad in grads:
            w.add("step%d.grad.%s" % (s, name), grad, "f32")
        for name, p in model.named_parameters():
            w.add("step%d.param.%s" % (s, name), p, "f32")
        print("%s step %d: loss %.6f, gradient norm %.6f" % (kind, s, float(loss), float(norm)))
    assert hp["clip"] == 0 or clipped > 0, "%s: clipping to %g never acted: raise the gradients" % (kind, hp["clip"])
    return w


def setup_torch():
    import torch

    torch.set_num_threads(1)  # one summation order in torch's kernels, so reruns give the same bytes
    torch.use_deterministic_algorithms(True)


# ------------------------------------------------------------------ check (standard library)

def fail(path, msg):
    raise SystemExit("make_gpt_fixtures.py: %s: %s" % (path, msg))


def check_file(path, kind):
    """Checks a fixture with the standard library alone: every record the format names,
    with its dtype and shape; the batches are windows of bytes; all values finite; the
    recorded gradient norms are the gradients' norms; every step's update is the
    optimizer's rule (check_updates); the first and last steps' losses are the model's
    (check_loss)."""
    try:
        _, rec = pwtr.read(path)
    except (OSError, ValueError) as e:
        fail(path, e)
    hp = HP[kind]
    want = {"config.layers": ("i32", [], LAYERS), "config.heads": ("i32", [], HEADS),
            "config.channels": ("i32", [], CHANNELS), "config.context": ("i32", [], CONTEXT),
            "config.vocab": ("i32", [], VOCAB), "batch": ("i32", [], BATCH), "steps": ("i32", [], STEPS)}
    for key, value in hp.items():
        want["hp." + key] = ("f64", [], value)
    shapes = param_shapes()
    for name, shape in shapes:
        want["init." + name] = ("f32", shape, None)
    for s in range(STEPS):
        want["step%d.idx" % s] = ("i32", [BATCH, CONTEXT], None)
        want["step%d.targets" % s] = ("i32", [BATCH, CONTEXT], None)
        want["step%d.loss" % s] = ("f32", [], None)
        want["step%d.grad_norm" % s] = ("f32", [], None)
        for name, shape in shapes:
            want["step%d.grad.%s" % (s, name)] = ("f32", shape, None)
            want["step%d.param.%s" % (s, name)] = ("f32", shape, None)
    if set(rec) != set(want):
        fail(path, "records missing %s, unexpected %s" % (sorted(set(want) - set(rec))[:5],
                                                          sorted(set(rec) - set(want))[:5]))
    for name, (dtype, dims, value) in want.items():
        r = rec[name]
        if r.dtype != dtype or r.dims != dims:
            fail(path, "%s is %s %s, want %s %s" % (name, r.dtype, r.dims, dtype, dims))
        if value is not None and r.scalar() != value:
            fail(path, "%s is %r, want %r" % (name, r.scalar(), value))
        if dtype != "i32" and not all(math.isfinite(x) for x in r.values):
            fail(path, "%s has a non-finite value" % name)
    clipped = 0
    for s in range(STEPS):
        idx, tgt = rec["step%d.idx" % s].values, rec["step%d.targets" % s].values
        if not all(0 <= x < VOCAB for x in list(idx) + list(tgt)):
            fail(path, "step %d: a byte outside [0, %d)" % (s, VOCAB))
        for b in range(BATCH):
            row = b * CONTEXT
            if idx[row + 1:row + CONTEXT] != tgt[row:row + CONTEXT - 1]:
                fail(path, "step %d, row %d: targets are not the inputs shifted by one byte" % (s, b))
        norm = math.sqrt(sum(x * x for name, _ in shapes for x in rec["step%d.grad.%s" % (s, name)].values))
        got = rec["step%d.grad_norm" % s].scalar()
        if abs(norm - got) > 1e-5 * norm:
            fail(path, "step %d: grad_norm %r, the gradients' norm is %r" % (s, got, norm))
        clipped += hp["clip"] > 0 and got > hp["clip"]
        loss = rec["step%d.loss" % s].scalar()
        if not 0 < loss < 2 * math.log(VOCAB):
            fail(path, "step %d: loss %r is not plausible" % (s, loss))
    if hp["clip"] > 0 and not clipped:
        fail(path, "clipping never acts")
    check_updates(path, kind, rec, shapes)
    for s in (0, STEPS - 1):
        check_loss(path, rec, s)
    print("%s: %d records, ok" % (os.path.relpath(path), len(rec)))


def check_updates(path, kind, rec, shapes):
    """Every step's parameters are the optimizer's rule applied, in double precision, to the
    recorded parameters before it and the recorded gradients up to it, as torch 1.13's
    single-tensor optimizers compute it (weight decay on dim >= 2 only):
      SGD:   d = g + wd p; buf = d at step 0, else momentum buf + d; p -= lr buf
      AdamW: g' = g min(1, clip / (norm + 1e-6)); p *= 1 - lr wd; m = b1 m + (1 - b1) g';
             v = b2 v + (1 - b2) g'^2; p -= lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    so that hp, init, grad, grad_norm and param agree with one another."""
    hp = HP[kind]
    state = {name: None for name, _ in shapes}
    for s in range(STEPS):
        t = s + 1
        norm = rec["step%d.grad_norm" % s].scalar()
        scale = min(1.0, hp["clip"] / (norm + 1e-6)) if hp["clip"] > 0 else 1.0
        before = "init." if s == 0 else "step%d.param." % (s - 1)
        worst = 0.0
        for name, shape in shapes:
            wd = hp["weight_decay"] if len(shape) >= 2 else 0.0
            p0 = rec[before + name].values
            g = rec["step%d.grad.%s" % (s, name)].values
            p1 = rec["step%d.param.%s" % (s, name)].values
            n = len(p0)
            if kind == "sgd":
                buf = state[name] or [0.0] * n
                for i in range(n):
                    d = g[i] + wd * p0[i]
                    buf[i] = d if s == 0 else hp["momentum"] * buf[i] + d
                    want = p0[i] - hp["lr"] * buf[i]
                    worst = max(worst, abs(want - p1[i]) / max(abs(p1[i]), 1e-3))
                state[name] = buf
            else:
                m, v = state[name] or ([0.0] * n, [0.0] * n)
                b1, b2 = hp["beta1"], hp["beta2"]
                step_size = hp["lr"] / (1 - b1 ** t)
                root_bc2 = math.sqrt(1 - b2 ** t)
                for i in range(n):
                    gc = g[i] * scale
                    m[i] = b1 * m[i] + (1 - b1) * gc
                    v[i] = b2 * v[i] + (1 - b2) * gc * gc
                    want = p0[i] * (1 - hp["lr"] * wd) - step_size * m[i] / (math.sqrt(v[i]) / root_bc2 + hp["eps"])
                    worst = max(worst, abs(want - p1[i]) / max(abs(p1[i]), 1e-3))
                state[name] = (m, v)
        if worst > 1e-5:  # float32 rounding leaves about 1e-6
            fail(path, "step %d's update is not %s's rule (worst relative difference %.3g)" % (s, kind, worst))


def check_loss(path, rec, s):
    """Step s's loss recomputed by a plain-Python forward pass (lists and loops, in double)
    from the parameters before step s: an independent reading of the records' layout, as
    a C++ reader must take it. nn.Linear's weight W [out, in] gives y = x W^T + b; c_attn's
    output is q, k, v side by side, head h at columns h*hs .. (h+1)*hs of each; logits are
    ln_f(x) wte^T."""
    before = "init." if s == 0 else "step%d.param." % (s - 1)
    P = {name: rec[before + name].values for name, _ in param_shapes()}
    C, T, hs = CHANNELS, CONTEXT, CHANNELS // HEADS

    def linear(x, name, out):
        W, b = P[name + ".weight"], P[name + ".bias"]
        n_in = len(x[0])
        return [[b[o] + sum(W[o * n_in + i] * xi[i] for i in range(n_in)) for o in range(out)] for xi in x]

    def layer_norm(x, name):
        w, b = P[name + ".weight"], P[name + ".bias"]
        out = []
        for xi in x:
            mean = sum(xi) / C
            var = sum((v - mean) ** 2 for v in xi) / C
            r = 1 / math.sqrt(var + 1e-5)
            out.append([(xi[c] - mean) * r * w[c] + b[c] for c in range(C)])
        return out

    def gelu(v):
        return 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))

    idx, tgt = rec["step%d.idx" % s].values, rec["step%d.targets" % s].values
    wte, wpe = P["transformer.wte.weight"], P["transformer.wpe.weight"]
    total = 0.0
    for b in range(BATCH):
        x = [[wte[idx[b * T + t] * C + c] + wpe[t * C + c] for c in range(C)] for t in range(T)]
        for i in range(LAYERS):
            h = "transformer.h.%d." % i
            qkv = linear(layer_norm(x, h + "ln_1"), h + "attn.c_attn", 3 * C)
            y = [[0.0] * C for _ in range(T)]
            for head in range(HEADS):
                lo = head * hs
                for t in range(T):
                    q = qkv[t][lo:lo + hs]
                    scores = [sum(q[j] * qkv[u][C + lo + j] for j in range(hs)) / math.sqrt(hs) for u in range(t + 1)]
                    top = max(scores)
                    e = [math.exp(a - top) for a in scores]
                    z = sum(e)
                    for j in range(hs):
                        y[t][lo + j] = sum(e[u] / z * qkv[u][2 * C + lo + j] for u in range(t + 1))
            a = linear(y, h + "attn.c_proj", C)
            x = [[x[t][c] + a[t][c] for c in range(C)] for t in range(T)]
            f = [[gelu(v) for v in row] for row in linear(layer_norm(x, h + "ln_2"), h + "mlp.c_fc", 4 * C)]
            m = linear(f, h + "mlp.c_proj", C)
            x = [[x[t][c] + m[t][c] for c in range(C)] for t in range(T)]
        x = layer_norm(x, "transformer.ln_f")
        for t in range(T):
            logits = [sum(wte[v * C + c] * x[t][c] for c in range(C)) for v in range(VOCAB)]
            top = max(logits)
            total += top + math.log(sum(math.exp(l - top) for l in logits)) - logits[tgt[b * T + t]]
    loss = total / (BATCH * T)
    got = rec["step%d.loss" % s].scalar()
    if abs(loss - got) > 1e-5 * abs(loss):
        fail(path, "step %d: loss %r, a plain forward pass of its parameters gives %r" % (s, got, loss))


def check_rerun(path, kind):
    """Regenerating gives the committed bytes exactly (same torch, same CPU kind)."""
    with open(path, "rb") as f:
        if f.read() != generate(kind).data():
            fail(path, "regenerating gives other bytes (torch or the generator changed: regenerate and commit)")
    print("%s: regenerated bit for bit" % os.path.relpath(path))


def main(argv):
    if argv and argv[0] == "--check":
        rerun = "--rerun" in argv[1:]
        files = [f for f in argv[1:] if f != "--rerun"] or [fixture_path(k) for k in HP]
        if rerun:
            setup_torch()
        for path in files:
            kind = "adamw" if "adamw" in os.path.basename(path) else "sgd"
            check_file(path, kind)
            if rerun:
                check_rerun(path, kind)
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    setup_torch()
    os.makedirs(OUT, exist_ok=True)
    for kind in HP:
        generate(kind).write(fixture_path(kind))
    for kind in HP:
        check_file(fixture_path(kind), kind)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
