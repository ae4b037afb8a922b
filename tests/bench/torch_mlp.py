#!/usr/bin/python3
"""PyTorch baseline for tests/bench/run.sh: the MLP pol-train trains, on the CPU.

    /usr/bin/python3 tests/bench/torch_mlp.py --threads N [--steps S] [--warmup W] [--repeats R] ...

nn.Sequential(Linear, ReLU, ..., Linear), CrossEntropyLoss (mean), torch.optim.SGD with
momentum, batch B of Fashion-MNIST (pixel/255, converted from uint8 per batch as
pol-train's LoadBatch does). Runs W untimed warm-up steps from a fresh model, then
R times S timed steps, each from a fresh model (same seed), and prints one JSON line:
threads, steps, the best run's seconds and steps_per_second, the first run's
final_loss and SHA-256 of the final parameters' bytes (so that runs under different
thread settings can be compared bit for bit), whether all R runs ended with the same
bits, and every run. Needs Debian's python3-torch and python3-numpy (use /usr/bin/python3).
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch

from torch_bench import setting, timed_runs


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def model(widths):
    layers = []
    for i in range(len(widths) - 1):
        layers.append(torch.nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--widths", default="784-1024-1024-10")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    widths = [int(w) for w in a.widths.split("-")]
    images = read_idx(os.path.join(a.data, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(a.data, "train-labels-idx1-ubyte.gz"))
    images = torch.from_numpy(images.reshape(len(images), -1).copy())
    labels = torch.from_numpy(labels.astype(np.int64))
    n = len(labels)
    order = np.random.default_rng(a.seed).permutation(n)
    batches = [torch.from_numpy(order[(s * a.batch) % (n - a.batch + 1):][:a.batch].copy())
               for s in range(max(a.steps, a.warmup))]

    def run(steps):
        torch.manual_seed(a.seed)
        net = model(widths)
        opt = torch.optim.SGD(net.parameters(), lr=a.lr, momentum=a.momentum)
        loss_fn = torch.nn.CrossEntropyLoss()
        loss = None
        t0 = time.perf_counter()
        for s in range(steps):
            idx = batches[s]
            x = images[idx].float() / 255.0
            y = labels[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
        # loss.item() synchronises nothing on the CPU, but keep it inside the timing anyway.
        final = float(loss.item())
        return time.perf_counter() - t0, final, net

    print(json.dumps(dict(setting(a.threads), **timed_runs(run, a.steps, a.warmup, a.repeats))))


if __name__ == "__main__":
    main()
