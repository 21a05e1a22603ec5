#!/usr/bin/env python3
"""Golden vectors for package positional, computed by PyTorch in float64.

Run from the repository root with Debian's PyTorch (apt-get install -y python3-torch):

    /usr/bin/python3 positional/testdata/generate.py

It writes positional/testdata/golden.json:
  - sinusoidal: the encoding as written in "The Annotated Transformer" (div_term with exp/log);
  - rope: Hugging Face LLaMA's rotate_half / apply_rotary_pos_emb, with gradients of sum(out * r);
  - alibi: slopes by the get_slopes function of the ALiBi paper's reference code
    (ofirpress/attention_with_linear_biases), and the causal bias -slope * (query_pos - key_pos).
"""
import json
import math
import os

import torch

torch.manual_seed(1127)
DT = torch.float64


def t(x):
    x = x.detach()
    return {"shape": list(x.shape), "data": [float(v) for v in x.reshape(-1).tolist()]}


def sinusoidal(seq, dim):
    pe = torch.zeros(seq, dim, dtype=DT)
    position = torch.arange(0, seq, dtype=DT).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, dim, 2, dtype=DT) * -(math.log(10000.0) / dim))
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term[: dim // 2])
    return pe


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope(x, positions, base):
    d = x.shape[-1]
    inv_freq = 1.0 / (base ** (torch.arange(0, d, 2, dtype=DT) / d))
    freqs = positions.to(DT).unsqueeze(-1) * inv_freq
    emb = torch.cat((freqs, freqs), dim=-1)
    if emb.dim() == 2:
        emb = emb.unsqueeze(0)
    cos, sin = emb.cos().unsqueeze(2), emb.sin().unsqueeze(2)
    return x * cos + rotate_half(x) * sin


def rope_case(b, s, h, d, positions, base):
    x = torch.randn(b, s, h, d, dtype=DT, requires_grad=True)
    out = rope(x, positions, base)
    r = torch.randn_like(out)
    (out * r).sum().backward()
    return {"x": t(x), "positions": t(positions), "base": base, "r": t(r), "out": t(out), "dx": t(x.grad)}


def get_slopes(n):
    # From the ALiBi reference implementation.
    def get_slopes_power_of_2(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        ratio = start
        return [start * ratio ** i for i in range(n)]

    if math.log2(n).is_integer():
        return get_slopes_power_of_2(n)
    closest_power_of_2 = 2 ** math.floor(math.log2(n))
    return get_slopes_power_of_2(closest_power_of_2) + get_slopes(2 * closest_power_of_2)[0::2][: n - closest_power_of_2]


def alibi_bias(heads, q_len, kv_len):
    slopes = torch.tensor(get_slopes(heads), dtype=DT).reshape(heads, 1, 1)
    q_pos = torch.arange(kv_len - q_len, kv_len, dtype=DT).reshape(1, q_len, 1)
    k_pos = torch.arange(kv_len, dtype=DT).reshape(1, 1, kv_len)
    return -slopes * (q_pos - k_pos)


def main():
    out = {
        "torch_version": torch.__version__,
        "sinusoidal": {"7x10": t(sinusoidal(7, 10)), "50x64": t(sinusoidal(50, 64))},
        "rope": {
            "shared_positions": rope_case(2, 5, 3, 8, torch.arange(5), 10000.0),
            "batch_positions": rope_case(2, 4, 2, 6, torch.tensor([[3, 4, 5, 6], [100, 101, 102, 103]]), 10000.0),
            "base_500": rope_case(1, 6, 2, 16, torch.arange(6) * 7, 500.0),
        },
        "alibi_slopes": {str(n): get_slopes(n) for n in [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24]},
        "alibi_bias": {"h6_q3_kv5": t(alibi_bias(6, 3, 5)), "h4_q5_kv5": t(alibi_bias(4, 5, 5))},
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print("wrote", path)


if __name__ == "__main__":
    main()
