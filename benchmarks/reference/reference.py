#!/usr/bin/env python3
"""PyTorch peer of bitter's training-throughput benchmarks: the same three models, grid and output.

    python3 benchmarks/reference/reference.py --steps 3 > torch.jsonl
    python3 benchmarks/reference/reference.py --device cuda --dtype bfloat16 --compile   # torch 2.x on a GPU

Models (same sizes as benchmarks/bench): a pre-norm GPT (transformer.Tiny: 4 layers, 128 wide, 4 heads,
FFN 512, GELU, LayerNorm, learned positions, untied head), and nn.LSTM / nn.GRU language models
(embedding 128, 2 layers of 240 / 272, linear head). One training step is forward, cross-entropy,
backward and AdamW; tokens per step are fixed (batch = tokens / T). It prints one JSON object per
grid cell, with the fields of bench.Result: model, seq_len, batch, params, tokens_per_sec,
ms_per_step, compile_s (first step less one median step), steps; plus "impl".
Runs on Debian's torch 1.13 (CPU) and on torch 2.x (uses F.scaled_dot_product_attention when present).
"""
import argparse
import json
import math
import statistics
import sys
import time
import traceback

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, h, ffn):
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.up, self.down = nn.Linear(d, ffn), nn.Linear(ffn, d)

    def forward(self, x):
        b, t, d = x.shape
        y = self.ln1(x)
        q, k, v = (m(y).view(b, t, self.h, d // self.h).transpose(1, 2) for m in (self.q, self.k, self.v))
        if hasattr(F, "scaled_dot_product_attention"):
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            s = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.h)
            mask = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
            a = torch.softmax(s.masked_fill(~mask, float("-inf")), dim=-1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(b, t, d))
        return x + self.down(F.gelu(self.up(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, vocab, seq, d=128, layers=4, h=4, ffn=512):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(seq, d)
        self.blocks = nn.ModuleList(Block(d, h, ffn) for _ in range(layers))
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln(x))


class RNNLM(nn.Module):
    def __init__(self, cell, vocab, embed, hidden, layers):
        super().__init__()
        self.emb = nn.Embedding(vocab, embed)
        self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(embed, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, idx):
        out, _ = self.rnn(self.emb(idx))
        return self.head(out)


def build(kind, seq, args):
    if kind == "transformer":
        return GPT(args.vocab, max(128, seq), args.dim, args.layers, args.heads, args.ffn)  # context as bench.Build
    hidden = args.hidden or (240 if kind == "lstm" else 272)
    return RNNLM(kind, args.vocab, args.embed, hidden, args.rnn_layers)


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(kind, seq, args):
    torch.manual_seed(1)
    device = args.device
    if args.tokens // seq < 1:
        raise ValueError("%d tokens per step hold no sequence of %d" % (args.tokens, seq))
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    model = build(kind, seq, args).to(device)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = args.tokens // seq
    x = torch.randint(0, args.vocab, (batch, seq), device=device)
    y = torch.randint(0, args.vocab, (batch, seq), device=device)
    fwd = torch.compile(model) if args.compile else model
    dtype = {"float32": None, "bfloat16": torch.bfloat16}[args.dtype]

    def step():
        with torch.autocast(device_type=device.split(":")[0], dtype=dtype, enabled=dtype is not None):
            logits = fwd(x)
            loss = F.cross_entropy(logits.float().reshape(-1, args.vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()  # Waits for the step.

    start = time.perf_counter()
    step()
    sync(device)
    first = time.perf_counter() - start
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - start)
    med = statistics.median(times)
    impl = "torch %s %s%s %s%s" % (torch.__version__, device, " compile" if args.compile else " eager", args.dtype,
                                   " tf32" if args.tf32 and args.dtype == "float32" else "")
    out = {"model": kind, "seq_len": seq, "batch": batch, "params": params, "tokens_per_sec": batch * seq / med,
           "ms_per_step": med * 1000, "compile_s": max(0.0, first - med), "steps": len(times), "impl": impl}
    if device.startswith("cuda"):
        out["peak_mem_gb"] = torch.cuda.max_memory_allocated() / 1e9
    del model, opt, fwd
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="transformer,lstm,gru")
    p.add_argument("--lengths", default="64,128,256,512,1024")
    p.add_argument("--tokens", type=int, default=4096)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--compile", action="store_true", help="torch.compile the model (torch 2.x)")
    p.add_argument("--tf32", action="store_true",
                   help="allow TF32 matmuls for float32 on CUDA (what XLA does for float32 dots at default precision)")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = torch's default)")
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--ffn", type=int, default=512)
    p.add_argument("--embed", type=int, default=128)
    p.add_argument("--hidden", type=int, default=0)
    p.add_argument("--rnn-layers", type=int, default=2)
    args = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cpu" and "BLAS_INFO=generic" in torch.__config__.show():
        # Debian's python3-torch calls whatever libblas.so.3 is installed: the reference BLAS by
        # default (about 5 GFLOP/s here), OpenBLAS after `apt-get install libopenblas0-pthread`.
        a = torch.randn(512, 512)
        start = time.perf_counter()
        for _ in range(5):
            a @ a
        gflops = 5 * 2 * 512 ** 3 / (time.perf_counter() - start) / 1e9
        if gflops < 20:
            print("reference.py: torch's generic BLAS runs a matmul at %.1f GFLOP/s: install an optimized "
                  "libblas.so.3 (apt-get install -y libopenblas0-pthread) for a fair peer" % gflops, file=sys.stderr)
    failed = []
    for kind in args.models.split(","):
        for seq in (int(s) for s in args.lengths.split(",")):
            try:
                print(json.dumps(measure(kind, seq, args)), flush=True)
            except Exception as e:  # one cell (out of memory, a compile error) must not lose the others
                # torch.compile's errors put the cause after a first line such as "backend='inductor'
                # raised:", so the whole message goes on one line, then the traceback's last frames.
                msg = " | ".join(line.strip() for line in str(e).splitlines() if line.strip())
                failed.append("%s T=%d: %s: %s" % (kind, seq, type(e).__name__, msg[:300] or repr(e)))
                print("reference.py: %s T=%d: %s: %s" % (kind, seq, type(e).__name__, msg[:1000] or repr(e)), file=sys.stderr)
                print("\n".join(traceback.format_exc().rstrip().splitlines()[-8:]), file=sys.stderr)
    if failed:  # last on stderr: compare puts this line in the results' peer note; the other cells stand
        print("reference.py: %d cell(s) failed; first: %s" % (len(failed), failed[0]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
