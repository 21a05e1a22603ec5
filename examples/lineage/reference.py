#!/usr/bin/env python3
"""PyTorch at the lineage's settings: the anchor for examples/lineage's networks.

    /usr/bin/python3 examples/lineage/reference.py --model transformer --steps 1144

The same text and split (tiny Shakespeare, the first 90% trains), the same models as bitter's
(benchmarks/reference/reference.py: transformer.Tiny, the LSTM and GRU baselines), the same training
recipe as package trainer's defaults: random windows of 128 bytes, 16 a step; AdamW (betas 0.9, 0.999,
eps 1e-8) at lr 2e-3 with weight decay 0.1 on matrices but not embeddings, biases or norms; 10 warmup
steps (a tenth of runs under 100) then cosine to lr/10; gradients clipped to norm 1; weights N(0, 0.02), biases 0 (bitter's
initialisation). Evaluates the whole validation split in consecutive windows of 128, as the trainer
does, and prints one JSON line: the validation bits per byte, tokens/s, wall time.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "benchmarks", "reference"))
from reference import GPT, RNNLM  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="transformer", choices=["transformer", "lstm", "gru"])
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data", default=os.path.join(HERE, "testdata", "tinyshakespeare.txt"))
    a = p.parse_args()
    torch.manual_seed(a.seed)
    text = open(a.data, "rb").read()
    cut = len(text) - int(len(text) * 0.1 + 0.5)
    train = torch.tensor(list(text[:cut]), dtype=torch.long)
    val = torch.tensor(list(text[cut:]), dtype=torch.long)

    if a.model == "transformer":
        model = GPT(256, 128)
    else:
        model = RNNLM(a.model, 256, 128, 240 if a.model == "lstm" else 272, 2)
    for name, prm in model.named_parameters():
        if prm.dim() >= 2 and a.model == "transformer":
            nn.init.normal_(prm, 0, 0.02)
        elif prm.dim() < 2 and "ln" not in name:
            nn.init.zeros_(prm)
    decay = [q for n, q in model.named_parameters() if q.dim() >= 2 and not n.startswith(("wte", "wpe", "emb"))]
    rest = [q for n, q in model.named_parameters() if not (q.dim() >= 2 and not n.startswith(("wte", "wpe", "emb")))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    warm, floor = min(10, a.steps // 10), a.lr / 10

    def lr_at(step):  # optim.Schedule.At, 1-based steps
        if warm > 0 and step <= warm:
            return a.lr * step / warm
        prog = min(1.0, max(0.0, (step - warm) / max(1, a.steps - warm)))
        return floor + (a.lr - floor) * (1 + math.cos(math.pi * prog)) / 2

    start = time.time()
    times = []
    for step in range(1, a.steps + 1):
        t0 = time.time()
        ix = torch.randint(len(train) - a.seq, (a.batch,))
        x = torch.stack([train[i:i + a.seq] for i in ix])
        y = torch.stack([train[i + 1:i + a.seq + 1] for i in ix])
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        loss = F.cross_entropy(model(x).reshape(-1, 256), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        times.append(time.time() - t0)
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(val) - 1, a.seq):
            e = min(s + a.seq, len(val) - 1)
            logits = model(val[s:e][None])
            total += F.cross_entropy(logits[0], val[s + 1:e + 1], reduction="sum").item()
            count += e - s
    times.sort()
    print(json.dumps({"impl": "pytorch " + torch.__version__, "model": a.model, "steps": a.steps, "batch": a.batch, "seq": a.seq,
                      "val_bits_per_byte": total / count / math.log(2), "tokens_per_sec": a.batch * a.seq / times[len(times) // 2],
                      "wall_s": time.time() - start}))


if __name__ == "__main__":
    main()
