#!/usr/bin/env python3
"""Golden vectors for package optim, computed by PyTorch in float64.

Run from the repository root with Debian's PyTorch (apt-get install -y python3-torch):

    /usr/bin/python3 optim/testdata/generate.py

Each case starts from random parameters (a matrix "w", decayed, and a vector "b", not decayed) and
applies 10 steps with given random gradients:
  - AdamW cases use torch.optim.AdamW with two parameter groups (weight_decay on w only),
    torch.nn.utils.clip_grad_norm_ when clipping, and torch.optim.lr_scheduler.LambdaLR for schedules;
  - Lion (not in torch 1.13) follows the update of Chen et al. 2023, Algorithm 2, written here.
It stores the parameters after every step.
"""
import json
import math
import os

import torch

torch.manual_seed(111)
DT = torch.float64
STEPS = 10


def t(x):
    return {"shape": list(x.shape), "data": [float(v) for v in x.detach().reshape(-1).tolist()]}


def warmup_cosine(peak, warmup, total, floor):
    def lr(s):  # s is the 1-based step
        if s <= warmup:
            return peak * s / warmup
        p = min(1.0, max(0.0, (s - warmup) / (total - warmup)))
        return floor + (peak - floor) * (1 + math.cos(math.pi * p)) / 2
    return lr


def adamw_case(lr_fn, betas=(0.9, 0.999), eps=1e-8, wd=0.1, clip=0.0):
    w = torch.randn(3, 4, dtype=DT, requires_grad=True)
    b = torch.randn(4, dtype=DT, requires_grad=True)
    init = {"w": t(w), "b": t(b)}
    grads = [{"w": torch.randn(3, 4, dtype=DT), "b": torch.randn(4, dtype=DT)} for _ in range(STEPS)]
    opt = torch.optim.AdamW([{"params": [w], "weight_decay": wd}, {"params": [b], "weight_decay": 0.0}],
                            lr=1.0, betas=betas, eps=eps)
    # LambdaLR multiplies the base lr (1.0) by lr_fn(epoch); epoch 0 is the first step, so shift to 1-based.
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: lr_fn(e + 1))
    after = []
    for g in grads:
        w.grad, b.grad = g["w"].clone(), g["b"].clone()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_([w, b], clip)
        opt.step()
        sched.step()
        after.append({"w": t(w), "b": t(b)})
    return {"init": init, "grads": [{k: t(v) for k, v in g.items()} for g in grads], "after": after}


def lion_case(lr, betas=(0.9, 0.99), wd=0.1):
    w = torch.randn(3, 4, dtype=DT)
    b = torch.randn(4, dtype=DT)
    init = {"w": t(w), "b": t(b)}
    grads = [{"w": torch.randn(3, 4, dtype=DT), "b": torch.randn(4, dtype=DT)} for _ in range(STEPS)]
    m = {"w": torch.zeros_like(w), "b": torch.zeros_like(b)}
    p = {"w": w, "b": b}
    after = []
    for g in grads:
        for k in p:
            decay = wd if k == "w" else 0.0
            c = betas[0] * m[k] + (1 - betas[0]) * g[k]
            p[k] = p[k] - lr * (torch.sign(c) + decay * p[k])
            m[k] = betas[1] * m[k] + (1 - betas[1]) * g[k]
        after.append({k: t(v) for k, v in p.items()})
    return {"init": init, "grads": [{k: t(v) for k, v in g.items()} for g in grads], "after": after}


def main():
    cases = {
        "adamw_constant": adamw_case(lambda s: 1e-2) | {"lr": 1e-2, "wd": 0.1, "clip": 0.0, "algorithm": "adamw"},
        "adamw_warmup_cosine_clip": adamw_case(warmup_cosine(3e-2, 3, 10, 3e-3), betas=(0.9, 0.95), clip=1.0)
        | {"lr": 3e-2, "warmup": 3, "total": 10, "floor": 3e-3, "wd": 0.1, "clip": 1.0, "beta2": 0.95, "algorithm": "adamw"},
        "lion": lion_case(1e-3) | {"lr": 1e-3, "wd": 0.1, "clip": 0.0, "algorithm": "lion"},
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
    with open(path, "w") as f:
        json.dump({"torch_version": torch.__version__, "cases": cases}, f)
    print("wrote", path)


if __name__ == "__main__":
    main()
