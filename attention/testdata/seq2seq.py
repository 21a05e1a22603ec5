#!/usr/bin/env python3
"""Golden vectors for the encoder-decoder pieces of package attention, in float64:

- cross-attention: torch.nn.MultiheadAttention (batch_first) with queries from x, keys and values from
  a memory and a key padding mask, its in_proj and out_proj mapped to bitter's query, key, value and
  output projections ([in, out]);
- additive attention: Bahdanau et al. (2014)'s equations written out, e_j = v . tanh(W s + U h_j + b),
  alpha = softmax over the unmasked j, c = sum_j alpha_j h_j.

Stored: inputs, parameters, outputs (and the cross-attention's probabilities per head), a random cotangent r for each output, and the gradients of
sum(out * r) (plus sum(alpha * r_alpha) for the additive case) with respect to inputs and parameters.

    /usr/bin/python3 attention/testdata/seq2seq.py
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(2014)
DT = torch.float64


def t(x):
    return {"shape": list(x.shape), "data": [float(v) for v in x.detach().reshape(-1).tolist()]}


def cross_case(b, sq, skv, d, heads, lengths):
    mha = torch.nn.MultiheadAttention(d, heads, bias=True, batch_first=True).to(DT)
    with torch.no_grad():
        mha.in_proj_bias.normal_(0, 0.1)
        mha.out_proj.bias.normal_(0, 0.1)
    x = torch.randn(b, sq, d, dtype=DT, requires_grad=True)
    mem = torch.randn(b, skv, d, dtype=DT, requires_grad=True)
    pad = torch.arange(skv)[None, :] >= torch.tensor(lengths)[:, None]  # True = padding (ignored)
    out, _ = mha(x, mem, mem, key_padding_mask=pad, need_weights=False)
    r = torch.randn_like(out)
    (out * r).sum().backward()
    with torch.no_grad():
        _, probs = mha(x, mem, mem, key_padding_mask=pad, need_weights=True, average_attn_weights=False)
    w, bias = mha.in_proj_weight, mha.in_proj_bias
    params, grads = {}, {}
    for i, name in enumerate(["query", "key", "value"]):
        params[name + "/weights"] = t(w[i * d:(i + 1) * d].T)
        grads[name + "/weights"] = t(w.grad[i * d:(i + 1) * d].T)
        params[name + "/biases"] = t(bias[i * d:(i + 1) * d])
        grads[name + "/biases"] = t(bias.grad[i * d:(i + 1) * d])
    params["output/weights"], grads["output/weights"] = t(mha.out_proj.weight.T), t(mha.out_proj.weight.grad.T)
    params["output/biases"], grads["output/biases"] = t(mha.out_proj.bias), t(mha.out_proj.bias.grad)
    return {"config": {"ModelDim": d, "NumHeads": heads}, "x": t(x), "memory": t(mem),
            "mask": t((~pad)[:, None, None, :].to(DT)), "r": t(r), "out": t(out), "weights": t(probs),
            "dx": t(x.grad), "dmemory": t(mem.grad), "params": params, "grads": grads}


def additive_case(b, qdim, kvlen, kdim, units, lengths):
    s = torch.randn(b, qdim, dtype=DT, requires_grad=True)
    h = torch.randn(b, kvlen, kdim, dtype=DT, requires_grad=True)
    W = (torch.randn(qdim, units, dtype=DT) * qdim ** -0.5).requires_grad_(True)
    U = (torch.randn(kdim, units, dtype=DT) * kdim ** -0.5).requires_grad_(True)
    bias = (torch.randn(units, dtype=DT) * 0.1).requires_grad_(True)
    v = torch.randn(units, dtype=DT).requires_grad_(True)
    mask = torch.arange(kvlen)[None, :] < torch.tensor(lengths)[:, None]
    e = torch.tanh((s @ W)[:, None, :] + h @ U + bias) @ v  # [b, kvlen]
    e = e.masked_fill(~mask, float("-inf"))
    alpha = torch.softmax(e, 1)
    c = (alpha[:, :, None] * h).sum(1)
    r, ra = torch.randn_like(c), torch.randn_like(alpha)
    ((c * r).sum() + (alpha * ra).sum()).backward()
    return {"units": units, "query": t(s), "keys": t(h), "mask": t(mask.to(DT)), "r": t(r), "r_weights": t(ra),
            "context": t(c), "weights": t(alpha), "dquery": t(s.grad), "dkeys": t(h.grad),
            "params": {"query/weights": t(W), "key/weights": t(U), "key/biases": t(bias), "score": t(v)},
            "grads": {"query/weights": t(W.grad), "key/weights": t(U.grad), "key/biases": t(bias.grad), "score": t(v.grad)}}


def main():
    out = {"torch_version": torch.__version__,
           "cross": {"padded": cross_case(3, 4, 6, 8, 2, [6, 3, 1]), "longer_source": cross_case(2, 3, 9, 12, 3, [9, 5])},
           "additive": {"padded": additive_case(3, 5, 6, 4, 7, [6, 2, 4]), "unmasked": additive_case(2, 3, 4, 5, 6, [4, 4])}}
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "seq2seq.json"), "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
