"""The timing harness shared by the PyTorch baselines of tests/bench (torch_mlp.py,
torch_gpt.py): warm-up, repeated timed runs from a fresh model, the thread setting and a
hash of the final parameters, so that runs under different settings compare bit for bit."""
import hashlib
import os

import torch


def params_sha256(model):
    """SHA-256 of the state_dict's tensors' bytes, in order."""
    h = hashlib.sha256()
    for p in model.state_dict().values():
        h.update(p.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def setting(threads):
    """The thread setting of this process: torch's intra-op threads, OpenBLAS's and OpenMP's
    wait policy as the environment gave them (they must be set before torch starts)."""
    return {"threads": threads, "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS", ""),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "")}


def timed_runs(run, steps, warmup, repeats, tokens_per_step=0):
    """run(n) trains n steps from a fresh model and returns (seconds, final loss, model).
    One untimed run of warmup steps, then repeats timed runs of steps: the best run's
    seconds and rates (tokens_per_second too when tokens_per_step is given), the first
    run's final loss and parameter hash, whether every run ended with the same bits, and
    every run."""
    if warmup:
        run(warmup)
    runs = []
    for _ in range(repeats):
        secs, final, model = run(steps)
        r = {"seconds": secs, "steps_per_second": steps / secs, "final_loss": final,
             "params_sha256": params_sha256(model)}
        if tokens_per_step:
            r["tokens_per_second"] = steps * tokens_per_step / secs
        runs.append(r)
    best = min(runs, key=lambda r: r["seconds"])
    out = {"steps": steps, "seconds": best["seconds"], "steps_per_second": best["steps_per_second"]}
    if tokens_per_step:
        out["tokens_per_second"] = best["tokens_per_second"]
    out.update(final_loss=runs[0]["final_loss"], params_sha256=runs[0]["params_sha256"],
               run_to_run_identical=len({r["params_sha256"] for r in runs}) == 1, runs=runs)
    return out
