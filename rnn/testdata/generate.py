#!/usr/bin/env python3
"""Golden vectors for package rnn: torch.nn.LSTM and torch.nn.GRU in float64.

Run from the repository root with Debian's PyTorch (apt-get install -y python3-torch):

    /usr/bin/python3 rnn/testdata/generate.py

The model is nn.Embedding -> nn.LSTM / nn.GRU (batch_first, 2 layers) -> nn.Linear, with random
weights; parameters are stored under bitter's names, transposed to [in, out] (PyTorch keeps
weight_ih_l{k} as [gates*hidden, in]). Stored: tokens, logits, the cross-entropy against random
targets, and its gradient with respect to every parameter.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(4242)
DT = torch.float64


def t(x):
    return {"shape": list(x.shape), "data": [float(v) for v in x.detach().reshape(-1).tolist()]}


def case(cell, vocab=11, embed=6, hidden=5, layers=2, batch=2, seq=4):
    emb = torch.nn.Embedding(vocab, embed).to(DT)
    rnn = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(embed, hidden, num_layers=layers, batch_first=True).to(DT)
    head = torch.nn.Linear(hidden, vocab).to(DT)
    # Larger weights than PyTorch's default U(+-1/sqrt(hidden)) keep the gates away from 0.5.
    with torch.no_grad():
        for p in rnn.parameters():
            p.uniform_(-0.8, 0.8)
    tokens = torch.randint(0, vocab, (batch, seq))
    targets = torch.randint(0, vocab, (batch, seq))
    out, _ = rnn(emb(tokens))
    logits = head(out)
    loss = F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))
    loss.backward()
    params, grads = {}, {}

    def put(name, p, transpose=False):
        params[name] = t(p.t() if transpose else p)
        grads[name] = t(p.grad.t() if transpose else p.grad)

    put("token_embeddings/embeddings", emb.weight)
    for k in range(layers):
        put(f"layer_{k}/weights_ih", getattr(rnn, f"weight_ih_l{k}"), transpose=True)
        put(f"layer_{k}/weights_hh", getattr(rnn, f"weight_hh_l{k}"), transpose=True)
        put(f"layer_{k}/bias_ih", getattr(rnn, f"bias_ih_l{k}"))
        put(f"layer_{k}/bias_hh", getattr(rnn, f"bias_hh_l{k}"))
    put("head/weights", head.weight, transpose=True)
    put("head/biases", head.bias)
    return {"config": {"Cell": cell, "VocabSize": vocab, "EmbedDim": embed, "HiddenDim": hidden, "NumLayers": layers},
            "tokens": t(tokens), "targets": t(targets), "logits": t(logits), "loss": loss.item(),
            "params": params, "grads": grads}


def main():
    cases = {"lstm": case("lstm"), "gru": case("gru")}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
    with open(path, "w") as f:
        json.dump({"torch_version": torch.__version__, "cases": cases}, f)
    print("wrote", path)


if __name__ == "__main__":
    main()
