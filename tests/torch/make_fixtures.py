#!/usr/bin/python3
"""Regenerates tests/fixtures/torch/*.bin: the outside reference (proofwork(7), TESTS AND BENCHMARKS) that
tests/unit/test_torch_reference.cpp checks the training tape against.

Needs Debian's python3-torch (1.13) and python3-numpy, i.e. /usr/bin/python3:

    /usr/bin/python3 tests/torch/make_fixtures.py

For a small MLP, nn.Sequential(Linear, ReLU, Linear, ReLU, Linear) with widths
20-16-12-5 and batch 8 in float32, it records the initial parameters, and for
STEPS optimizer steps (a fresh batch each step) the batch, the loss and every
parameter gradient before the step and every parameter after it, once for
torch.optim.SGD (momentum, weight decay) and once for torch.optim.AdamW.
Step 0's loss and gradients are the plain "loss and gradients" check.

File format: the PWTR container of tests/torch/pwtr.py.

Record names:
    widths (i32), batch (i32), steps (i32)
    hp.lr, hp.momentum, hp.weight_decay             (f64; SGD, dampening 0, no Nesterov)
    hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weight_decay  (f64; AdamW, amsgrad off)
    init.<p>            initial parameter, <p> in state-dict order
                        (0.weight, 0.bias, 2.weight, ...; a weight is [out, in])
    step<s>.x           inputs of step s, [batch, widths[0]], uniform in [0, 1)
    step<s>.labels      class ids of step s (i32), [batch]
    step<s>.loss        CrossEntropyLoss (mean) before step s's update
    step<s>.grad.<p>    gradient of <p> at step s
    step<s>.param.<p>   <p> after step s's update
"""
import os

import torch

from pwtr import Writer

WIDTHS = [20, 16, 12, 5]
BATCH = 8
STEPS = 5
SEED = 20240611

SGD_HP = dict(lr=0.05, momentum=0.9, weight_decay=1e-3)
# Betas other than the defaults, so that a hard-coded 0.9/0.999 would show.
ADAMW_HP = dict(lr=0.01, beta1=0.85, beta2=0.995, eps=1e-8, weight_decay=0.05)

HINT = ("proofwork PyTorch reference fixture; regenerate: "
        "/usr/bin/python3 tests/torch/make_fixtures.py (torch %s)\n")

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "torch")


def make_model():
    torch.manual_seed(SEED)
    layers = []
    for i in range(len(WIDTHS) - 1):
        layers.append(torch.nn.Linear(WIDTHS[i], WIDTHS[i + 1]))
        if i + 2 < len(WIDTHS):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).float()


def make_batches():
    g = torch.Generator().manual_seed(SEED + 1)
    xs = [torch.rand(BATCH, WIDTHS[0], generator=g, dtype=torch.float32) for _ in range(STEPS)]
    ys = [torch.randint(0, WIDTHS[-1], (BATCH,), generator=g) for _ in range(STEPS)]
    return xs, ys


def run(kind):
    model = make_model()
    xs, ys = make_batches()
    w = Writer(HINT)
    w.add("widths", WIDTHS, "i32")
    w.add("batch", BATCH, "i32")
    w.add("steps", STEPS, "i32")
    if kind == "sgd":
        hp = SGD_HP
        opt = torch.optim.SGD(model.parameters(), lr=hp["lr"], momentum=hp["momentum"], dampening=0,
                              weight_decay=hp["weight_decay"], nesterov=False, foreach=False)
    else:
        hp = ADAMW_HP
        opt = torch.optim.AdamW(model.parameters(), lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]),
                                eps=hp["eps"], weight_decay=hp["weight_decay"], amsgrad=False,
                                foreach=False)
    for k, v in hp.items():
        w.add("hp." + k, v, "f64")
    for name, p in model.state_dict().items():
        w.add("init." + name, p, "f32")
    loss_fn = torch.nn.CrossEntropyLoss()
    for s in range(STEPS):
        w.add("step%d.x" % s, xs[s], "f32")
        w.add("step%d.labels" % s, ys[s], "i32")
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xs[s]), ys[s])
        loss.backward()
        w.add("step%d.loss" % s, loss, "f32")
        for name, p in model.named_parameters():
            w.add("step%d.grad.%s" % (s, name), p.grad, "f32")
        opt.step()
        for name, p in model.named_parameters():
            w.add("step%d.param.%s" % (s, name), p, "f32")
    w.write(os.path.join(OUT, "mlp_%s.bin" % kind))


def main():
    torch.set_num_threads(1)  # one summation order in torch's kernels, so reruns give the same bytes
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    run("sgd")
    run("adamw")


if __name__ == "__main__":
    main()
