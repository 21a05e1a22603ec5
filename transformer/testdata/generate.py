#!/usr/bin/env python3
"""Golden vectors for package transformer, computed by PyTorch in float64.

Run from the repository root with Debian's PyTorch (apt-get install -y python3-torch):

    /usr/bin/python3 transformer/testdata/generate.py

A small decoder-only LM written here in plain PyTorch (torch.nn.functional ops), independently of the
Go code, with parameters named by bitter's checkpoint scopes. For each config it stores the parameters,
the tokens and targets, the logits, the mean next-token cross-entropy (F.cross_entropy) and the
gradient of that loss with respect to every parameter.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

SEED = 27112026
torch.manual_seed(SEED)
DT = torch.float64


def t(x):
    x = x.detach()
    return {"shape": list(x.shape), "data": [float(v) for v in x.reshape(-1).tolist()]}


def get_slopes(n):
    def p2(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        return [start * start ** i for i in range(n)]
    if math.log2(n).is_integer():
        return p2(n)
    m = 2 ** math.floor(math.log2(n))
    return p2(m) + get_slopes(2 * m)[0::2][: n - m]


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope(x, base):  # x [b, s, h, d]
    s, d = x.shape[1], x.shape[3]
    inv = 1.0 / (base ** (torch.arange(0, d, 2, dtype=DT) / d))
    ang = torch.arange(s, dtype=DT).unsqueeze(-1) * inv
    emb = torch.cat((ang, ang), dim=-1)
    cos, sin = emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]
    return x * cos + rotate_half(x) * sin


def sinusoidal(seq, dim):
    pe = torch.zeros(seq, dim, dtype=DT)
    pos = torch.arange(seq, dtype=DT).unsqueeze(1)
    div = torch.exp(torch.arange(0, dim, 2, dtype=DT) * -(math.log(10000.0) / dim))
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div[: dim // 2])
    return pe


class Model:
    def __init__(self, cfg):
        self.cfg = cfg
        self.p = {}
        c = cfg
        D, V, F_, H = c["ModelDim"], c["VocabSize"], c["FFNDim"], c["NumHeads"]
        KV = c["NumKVHeads"] or H
        Q = D // H
        self.param("token_embeddings/embeddings", V, D)
        if c["Positional"] == "learned":
            self.param("position_embeddings/embeddings", c["MaxSeqLen"], D)
        for i in range(c["NumLayers"]):
            L = f"layer_{i}"
            for n in ("attention_norm", "mlp_norm"):
                self.norm_params(f"{L}/{n}", D)
            a = f"{L}/attention"
            for n, out in (("query", H * Q), ("key", KV * Q), ("value", KV * Q)):
                self.param(f"{a}/{n}/weights", D, out, std=D ** -0.5)
                if c["UseBias"]:
                    self.param(f"{a}/{n}/biases", out, std=0.1)
            self.param(f"{a}/output/weights", H * Q, D, std=(H * Q) ** -0.5)
            if c["UseBias"]:
                self.param(f"{a}/output/biases", D, std=0.1)
            if c["QKNorm"]:
                self.param(f"{a}/query_norm/scale", Q, std=0.1, offset=1.0)
                self.param(f"{a}/key_norm/scale", Q, std=0.1, offset=1.0)
            m = f"{L}/mlp"
            self.param(f"{m}/up/weights", D, F_, std=D ** -0.5)
            if c["Activation"] == "swiglu":
                self.param(f"{m}/gate/weights", D, F_, std=D ** -0.5)
            self.param(f"{m}/down/weights", F_, D, std=F_ ** -0.5)
            if c["UseBias"]:
                self.param(f"{m}/up/biases", F_, std=0.1)
                if c["Activation"] == "swiglu":
                    self.param(f"{m}/gate/biases", F_, std=0.1)
                self.param(f"{m}/down/biases", D, std=0.1)
        self.norm_params("final_norm", D)
        if not c["TieEmbeddings"]:
            self.param("head/weights", D, V, std=D ** -0.5)

    def param(self, name, *shape, std=1.0, offset=0.0):
        self.p[name] = (offset + std * torch.randn(*shape, dtype=DT)).requires_grad_(True)

    def norm_params(self, scope, D):
        self.param(f"{scope}/gain", D, std=0.1, offset=1.0)
        if self.cfg["Norm"] == "layernorm" and self.cfg["UseBias"]:
            self.param(f"{scope}/bias", D, std=0.1)

    def norm(self, scope, x):
        eps = 1e-5
        g = self.p[f"{scope}/gain"]
        if self.cfg["Norm"] == "rmsnorm":
            return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * g
        b = self.p.get(f"{scope}/bias")
        return F.layer_norm(x, (x.shape[-1],), g, b, eps)

    def linear(self, scope, x):
        y = x @ self.p[f"{scope}/weights"]
        b = self.p.get(f"{scope}/biases")
        return y + b if b is not None else y

    def forward(self, tokens):
        c, p = self.cfg, self.p
        B, S = tokens.shape
        D, H = c["ModelDim"], c["NumHeads"]
        KV = c["NumKVHeads"] or H
        Q = D // H
        wte = p["token_embeddings/embeddings"]
        x = F.embedding(tokens, wte)
        if c["Positional"] == "learned":
            x = x + p["position_embeddings/embeddings"][:S]
        elif c["Positional"] == "sinusoidal":
            x = x + sinusoidal(S, D)
        causal = torch.ones(S, S, dtype=torch.bool).tril()
        for i in range(c["NumLayers"]):
            L = f"layer_{i}"
            h = self.norm(f"{L}/attention_norm", x)
            a = f"{L}/attention"
            q = self.linear(f"{a}/query", h).view(B, S, H, Q)
            k = self.linear(f"{a}/key", h).view(B, S, KV, Q)
            v = self.linear(f"{a}/value", h).view(B, S, KV, Q)
            if c["QKNorm"]:
                q = q * torch.rsqrt((q * q).mean(-1, keepdim=True) + 1e-6) * p[f"{a}/query_norm/scale"]
                k = k * torch.rsqrt((k * k).mean(-1, keepdim=True) + 1e-6) * p[f"{a}/key_norm/scale"]
            if c["Positional"] == "rope":
                q, k = rope(q, 10000.0), rope(k, 10000.0)
            k = k.repeat_interleave(H // KV, dim=2)
            v = v.repeat_interleave(H // KV, dim=2)
            s = (q.transpose(1, 2) @ k.transpose(1, 2).transpose(-1, -2)) / math.sqrt(Q)  # [B, H, S, S]
            if c["Positional"] == "alibi":
                slopes = torch.tensor(get_slopes(H), dtype=DT).view(H, 1, 1)
                pos = torch.arange(S, dtype=DT)
                s = s - slopes * (pos.view(1, S, 1) - pos.view(1, 1, S))
            s = s.masked_fill(~causal, float("-inf"))
            o = (torch.softmax(s, dim=-1) @ v.transpose(1, 2)).transpose(1, 2).reshape(B, S, H * Q)
            x = x + self.linear(f"{a}/output", o)
            h = self.norm(f"{L}/mlp_norm", x)
            m = f"{L}/mlp"
            up = self.linear(f"{m}/up", h)
            act = c["Activation"]
            if act == "gelu":
                h = F.gelu(up)
            elif act == "relu":
                h = F.relu(up)
            elif act == "relu2":
                h = F.relu(up) ** 2
            else:
                h = F.silu(self.linear(f"{m}/gate", h)) * up
            x = x + self.linear(f"{m}/down", h)
        x = self.norm("final_norm", x)
        if c["TieEmbeddings"]:
            return x @ wte.t()
        return x @ p["head/weights"]


def case(cfg, batch=2, seq=None):
    seq = seq or cfg["MaxSeqLen"]
    model = Model(cfg)
    data = torch.randint(0, cfg["VocabSize"], (batch, seq + 1))
    tokens, targets = data[:, :-1], data[:, 1:]
    logits = model.forward(tokens)
    loss = F.cross_entropy(logits.reshape(-1, cfg["VocabSize"]), targets.reshape(-1))
    loss.backward()
    return {"config": cfg, "tokens": t(tokens), "targets": t(targets), "logits": t(logits), "loss": loss.item(),
            "params": {k: t(v) for k, v in model.p.items()}, "grads": {k: t(v.grad) for k, v in model.p.items()}}


def base(**kw):
    cfg = {"VocabSize": 19, "MaxSeqLen": 7, "NumLayers": 2, "ModelDim": 16, "NumHeads": 4, "NumKVHeads": 0,
           "FFNDim": 24, "Activation": "gelu", "Norm": "layernorm", "Positional": "learned",
           "TieEmbeddings": False, "UseBias": True, "QKNorm": False}
    cfg.update(kw)
    return cfg


def build():
    """The golden file's contents (draws from torch's global generator: seed it with SEED first)."""
    cases = {
        "gpt2_style": case(base()),
        "llama_style": case(base(Norm="rmsnorm", Activation="swiglu", Positional="rope", TieEmbeddings=True,
                                 UseBias=False, NumKVHeads=2, QKNorm=True)),
        "alibi_relu2": case(base(Positional="alibi", Activation="relu2", NumHeads=3, ModelDim=12), seq=5),
        "sinusoidal_relu_tied": case(base(Positional="sinusoidal", Activation="relu", TieEmbeddings=True)),
        "nopos_swiglu_bias": case(base(Positional="none", Activation="swiglu", Norm="rmsnorm")),
    }
    return {"torch_version": torch.__version__, "cases": cases}


def main():
    torch.manual_seed(SEED)
    out = build()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print("wrote", path)


if __name__ == "__main__":
    main()
