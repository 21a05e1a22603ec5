#!/usr/bin/env python3
"""Golden vectors for package attention, computed by PyTorch in float64.

Run from the repository root with Debian's PyTorch (apt-get install -y python3-torch):

    /usr/bin/python3 attention/testdata/generate.py

It writes attention/testdata/golden.json. The reference is written out in plain PyTorch ops
(torch 1.13 has no F.scaled_dot_product_attention), independently of the Go code:
scores = scale * q @ k^T + bias, masked, softmax over keys (a fully masked row gives zeros),
probabilities @ v; grouped-query attention by repeating each kv head heads/kvHeads times.
Gradients are of loss = sum(out * r) for a random r, by torch.autograd.
"""
import json
import math
import os

import torch

SEED = 20261127
torch.manual_seed(SEED)
DT = torch.float64


def t(x):
    """Serialises a tensor as {shape, data} in float64 (bools as 0/1)."""
    x = x.detach()
    if x.dtype == torch.bool:
        x = x.to(DT)
    return {"shape": list(x.shape), "data": [float(v) for v in x.reshape(-1).tolist()]}


def sdpa(q, k, v, causal=False, mask=None, bias=None, scale=None):
    """q [b, qLen, h, d], k/v [b, kvLen, kvh, d] -> [b, qLen, h, dv]."""
    b, ql, h, d = q.shape
    kvl, kvh = k.shape[1], k.shape[2]
    group = h // kvh
    k = k.repeat_interleave(group, dim=2)  # query head i uses kv head i // group
    v = v.repeat_interleave(group, dim=2)
    qh, kh, vh = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [b, h, len, d]
    if scale is None:
        scale = 1.0 / math.sqrt(d)
    s = scale * (qh @ kh.transpose(-1, -2))  # [b, h, ql, kvl]
    if bias is not None:
        s = s + bias
    allowed = torch.ones(b, h, ql, kvl, dtype=torch.bool)
    if causal:
        i = torch.arange(ql).reshape(ql, 1)
        j = torch.arange(kvl).reshape(1, kvl)
        allowed = allowed & (j <= i + kvl - ql)
    if mask is not None:
        allowed = allowed & mask
    s = s.masked_fill(~allowed, -1e300)
    e = torch.exp(s - s.amax(dim=-1, keepdim=True).detach()) * allowed.to(DT)
    den = e.sum(dim=-1, keepdim=True)
    p = e / torch.where(den == 0, torch.ones_like(den), den)
    return (p @ vh).transpose(1, 2)


def sdpa_case(name, b, ql, kvl, h, kvh, d, dv=None, causal=False, mask=None, bias=None, scale=None):
    dv = dv or d
    q = torch.randn(b, ql, h, d, dtype=DT, requires_grad=True)
    k = torch.randn(b, kvl, kvh, d, dtype=DT, requires_grad=True)
    v = torch.randn(b, kvl, kvh, dv, dtype=DT, requires_grad=True)
    out = sdpa(q, k, v, causal=causal, mask=mask, bias=bias, scale=scale)
    r = torch.randn_like(out)
    (out * r).sum().backward()
    case = {"q": t(q), "k": t(k), "v": t(v), "r": t(r), "out": t(out),
            "dq": t(q.grad), "dk": t(k.grad), "dv": t(v.grad),
            "causal": causal, "scale": scale if scale is not None else 0.0}
    if mask is not None:
        case["mask"] = t(mask)
    if bias is not None:
        case["bias"] = t(bias)
    return name, case


def rms_norm(x, scale, eps):
    return x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + eps) * scale


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope(x, positions, base):
    """Hugging Face LLaMA's apply_rotary_pos_emb; x [b, s, h, d], positions [s] or [b, s]."""
    d = x.shape[-1]
    inv = 1.0 / (base ** (torch.arange(0, d, 2, dtype=DT) / d))
    ang = positions.to(DT).unsqueeze(-1) * inv  # [..., s, d/2]
    emb = torch.cat((ang, ang), dim=-1)
    if emb.dim() == 2:
        emb = emb.unsqueeze(0)
    cos, sin = emb.cos().unsqueeze(2), emb.sin().unsqueeze(2)  # [b|1, s, 1, d]
    return x * cos + rotate_half(x) * sin


def multihead_case(name, b, s, dim, heads, kvh, use_bias, use_rope, qk_norm, causal, mask=None):
    hd = dim // heads
    p = {}

    def param(key, *shape, scale=1.0):
        p[key] = (scale * torch.randn(*shape, dtype=DT)).requires_grad_(True)
        return p[key]

    x = torch.randn(b, s, dim, dtype=DT, requires_grad=True)
    wq = param("query/weights", dim, heads * hd, scale=dim ** -0.5)
    wk = param("key/weights", dim, kvh * hd, scale=dim ** -0.5)
    wv = param("value/weights", dim, kvh * hd, scale=dim ** -0.5)
    wo = param("output/weights", heads * hd, dim, scale=(heads * hd) ** -0.5)
    q, k, v = x @ wq, x @ wk, x @ wv
    if use_bias:
        q = q + param("query/biases", heads * hd, scale=0.1)
        k = k + param("key/biases", kvh * hd, scale=0.1)
        v = v + param("value/biases", kvh * hd, scale=0.1)
    q, k, v = q.reshape(b, s, heads, hd), k.reshape(b, s, kvh, hd), v.reshape(b, s, kvh, hd)
    if qk_norm:
        q = rms_norm(q, 1 + param("query_norm/scale", hd, scale=0.1), 1e-6)
        k = rms_norm(k, 1 + param("key_norm/scale", hd, scale=0.1), 1e-6)
    if use_rope:
        pos = torch.arange(s)
        q, k = rope(q, pos, 10000.0), rope(k, pos, 10000.0)
    o = sdpa(q, k, v, causal=causal, mask=mask).reshape(b, s, heads * hd) @ wo
    if use_bias:
        o = o + param("output/biases", dim, scale=0.1)
    r = torch.randn_like(o)
    (o * r).sum().backward()
    case = {"x": t(x), "r": t(r), "out": t(o), "dx": t(x.grad),
            "config": {"ModelDim": dim, "NumHeads": heads, "NumKVHeads": kvh, "UseBias": use_bias,
                       "RoPE": use_rope, "QKNorm": qk_norm, "Causal": causal},
            "params": {}, "grads": {}}
    for key, w in p.items():
        value = w.detach()
        if key.endswith("norm/scale"):
            value = 1 + value  # the stored variable is the effective scale
        case["params"][key] = t(value)
        case["grads"][key] = t(w.grad)
    if mask is not None:
        case["mask"] = t(mask)
    return name, case


def build():
    """The golden file's contents (draws from torch's global generator: seed it with SEED first)."""
    sd = dict([
        sdpa_case("plain", 2, 5, 5, 4, 4, 8),
        sdpa_case("causal", 2, 5, 5, 4, 4, 8, causal=True),
        sdpa_case("causal_decode", 2, 3, 7, 4, 4, 8, causal=True),
        sdpa_case("gqa_causal", 2, 6, 6, 6, 2, 4, causal=True),
        sdpa_case("mqa", 1, 4, 5, 4, 1, 8, dv=6),
        sdpa_case("padding_mask", 2, 4, 6, 2, 2, 8,
                  mask=torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool).reshape(2, 1, 1, 6)),
        sdpa_case("mask_fully_masked_row", 1, 3, 4, 2, 2, 4,
                  mask=torch.tensor([[1, 0, 1, 1], [0, 0, 0, 0], [0, 1, 1, 0]], dtype=torch.bool)),
        sdpa_case("bias_causal", 2, 5, 5, 3, 3, 4, causal=True, bias=torch.randn(3, 5, 5, dtype=DT)),
        sdpa_case("scale", 1, 4, 4, 2, 2, 8, scale=0.3),
    ])
    mh = dict([
        multihead_case("gpt2_style", 2, 5, 16, 4, 4, use_bias=True, use_rope=False, qk_norm=False, causal=True),
        multihead_case("llama_gqa_rope_qknorm", 2, 6, 16, 4, 2, use_bias=False, use_rope=True, qk_norm=True, causal=True),
        multihead_case("masked_noncausal", 2, 4, 12, 3, 3, use_bias=True, use_rope=True, qk_norm=False, causal=False,
                       mask=torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool).reshape(2, 1, 1, 4)),
    ])
    return {"torch_version": torch.__version__, "sdpa": sd, "multihead": mh}


def main():
    torch.manual_seed(SEED)
    out = build()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print("wrote", path)


if __name__ == "__main__":
    main()
