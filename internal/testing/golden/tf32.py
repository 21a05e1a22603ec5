#!/usr/bin/env python3
"""How far TF32 matmuls move the golden cases, measured in PyTorch independently of the Go code.

Run from the repository root with Debian's PyTorch (apt-get install -y python3-torch):

    /usr/bin/python3 internal/testing/golden/tf32.py

XLA on an NVIDIA GPU runs float32 matmuls in TensorFloat-32 (operands cut to 10 mantissa bits,
float32 accumulation). This reruns the transformer and attention generators (testdata/generate.py)
with every `@` replaced by such a matmul, forward and backward (the gradients' matmuls take TF32
operands too), everything else in float64, and prints the largest relative error (max norm, as
golden.RelErr) of values and gradients against the committed golden.json, for operands rounded to
nearest and for operands truncated (what tensor cores do with raw float32 input). It checks the
tolerances golden.TF32Tol and golden.TF32GradTol in golden.go; the Go side of the same check is
`BITTER_EMULATE_TF32=1 go test ./...` (rounding to nearest).
"""
import importlib.util
import json
import os

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MATMUL = torch.Tensor.__matmul__


def rebuild(pkg):
    """(what pkg's generator builds now from its seed, the committed golden.json)."""
    spec = importlib.util.spec_from_file_location(pkg + "_generate", os.path.join(ROOT, pkg, "testdata", "generate.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    torch.manual_seed(mod.SEED)
    got = mod.build()
    with open(os.path.join(ROOT, pkg, "testdata", "golden.json")) as f:
        return got, json.load(f)


def tf32(x, mode):
    """x (float64) as a float32 with 10 explicit mantissa bits, back in float64."""
    bits = x.detach().to(torch.float32).contiguous().view(torch.int32)
    if mode == "nearest":  # round half to even at bit 13
        bits = bits + 0xFFF + ((bits >> 13) & 1)
    return (bits & ~0x1FFF).view(torch.float32).to(x.dtype)


def to_f32(x):
    return x.to(torch.float32).to(torch.float64)


def tf32_matmul(mode):
    class MatMul(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return to_f32(MATMUL(tf32(a, mode), tf32(b, mode)))

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            ga = to_f32(MATMUL(tf32(g, mode), tf32(b, mode).transpose(-1, -2))).sum_to_size(a.shape)
            gb = to_f32(MATMUL(tf32(a, mode).transpose(-1, -2), tf32(g, mode))).sum_to_size(b.shape)
            return ga, gb

    return lambda a, b: MatMul.apply(a, b)


def rel_err(got, want):
    """golden.RelErr: max|got-want| / max|want|, absolute when the reference is all but zero."""
    got, want = got["data"], want["data"]
    diff = max(abs(g - w) for g, w in zip(got, want))
    scale = max(abs(w) for w in want)
    return diff if scale < 1e-9 else diff / scale


def worst(pairs):
    """pairs: (label, got, want) -> (largest error, its label)."""
    return max((rel_err(g, w), label) for label, g, w in pairs)


def measure(mode):
    """Largest errors per package with matmuls in mode: exact (float64), nearest or truncate."""
    torch.Tensor.__matmul__ = MATMUL if mode == "exact" else tf32_matmul(mode)
    try:
        rows = []
        got, want = rebuild("transformer")
        values, grads = [], []
        for name, c in got["cases"].items():
            w = want["cases"][name]
            values.append((name + " logits", c["logits"], w["logits"]))
            values.append((name + " loss", {"data": [c["loss"]]}, {"data": [w["loss"]]}))
            grads += [(name + " d " + k, c["grads"][k], w["grads"][k]) for k in c["grads"]]
        rows.append(("transformer", worst(values), worst(grads)))

        got, want = rebuild("attention")
        values, grads = [], []
        for name, c in got["sdpa"].items():
            w = want["sdpa"][name]
            values.append(("sdpa " + name + " out", c["out"], w["out"]))
            grads += [("sdpa " + name + " " + k, c[k], w[k]) for k in ("dq", "dk", "dv")]
        for name, c in got["multihead"].items():
            w = want["multihead"][name]
            values.append(("multihead " + name + " out", c["out"], w["out"]))
            grads.append(("multihead " + name + " dx", c["dx"], w["dx"]))
            grads += [("multihead " + name + " d " + k, c["grads"][k], w["grads"][k]) for k in c["grads"]]
        rows.append(("attention", worst(values), worst(grads)))
        return rows
    finally:
        torch.Tensor.__matmul__ = MATMUL


def main():
    print(f"torch {torch.__version__}: largest relative error against golden.json (float64)")
    for mode in ("exact", "nearest", "truncate"):  # exact: the generators reproduce the committed files
        for pkg, (ve, vl), (ge, gl) in measure(mode):
            print(f"{mode:9s} {pkg:12s} values {ve:.2e} ({vl})  gradients {ge:.2e} ({gl})")


if __name__ == "__main__":
    main()
