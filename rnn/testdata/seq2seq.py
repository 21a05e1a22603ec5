#!/usr/bin/env python3
"""Golden vectors for rnn.Bidirectional and rnn.Seq2Seq, in float64.

- bidirectional: torch.nn.GRU / torch.nn.LSTM(bidirectional=True, 2 layers) over packed sequences of
  unequal lengths (pack_padded_sequence, enforce_sorted=False; outputs by pad_packed_sequence, zeros
  at padding), outputs and the top layer's final states [h_n forward; h_n backward]; gradients of
  sum(out * r) + sum(final * r_final) with respect to the input and every weight.
- seq2seq: Bahdanau et al. (2014)'s model written out: that encoder over embedded source tokens,
  s_0 = tanh(W_init [h_fwd_last; h_bwd_first] + b), then per target step
  e_j = v . tanh(W s_{i-1} + U h_j + b_att) over the real source tokens, c_i = sum_j alpha_j h_j,
  s_i = GRUCell / LSTMCell([E y_{i-1}; c_i], s_{i-1}) (an LSTM's cell starting at zero), and logits
  = Linear([s_i; c_i; E y_{i-1}]); the loss is the mean cross-entropy over targets other than -1.

Weights are mapped to bitter's scopes as [in, out] matrices.

    /usr/bin/python3 rnn/testdata/seq2seq.py
"""
import json
import os

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

DT = torch.float64


def t(x):
    return {"shape": list(x.shape), "data": [float(v) for v in x.detach().reshape(-1).tolist()]}


def rnn_params(rnn, prefix, layers):
    """bitter's name -> tensor (transposed where a matrix) for a (bidirectional) torch RNN."""
    out = {}
    for l in range(layers):
        for suffix, scope in (("", f"layer_{l}"), ("_reverse", f"layer_{l}_reverse")):
            for torch_name, name in (("weight_ih", "weights_ih"), ("weight_hh", "weights_hh"), ("bias_ih", "bias_ih"),
                                     ("bias_hh", "bias_hh")):
                out[f"{prefix}{scope}/{name}"] = getattr(rnn, f"{torch_name}_l{l}{suffix}")
    return out


def dump(named):
    """Parameters and gradients of named RNN weights, matrices transposed to [in, out]."""
    params, grads = {}, {}
    for name, p in named.items():
        v, g = (p.T, p.grad.T) if p.dim() == 2 else (p, p.grad)
        params[name], grads[name] = t(v), t(g)
    return params, grads


def encode(rnn, x, lengths, hidden):
    """Packed bidirectional run: outputs [b, S, 2h] (zeros at padding) and [h_fwd_last; h_bwd_first]."""
    packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    out, hn = rnn(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    if isinstance(hn, tuple):
        hn = hn[0]
    return out, torch.cat([hn[-2], hn[-1]], -1)


def bidirectional_case(cell, seed, b, seq, inp, hidden, layers, lengths):
    torch.manual_seed(seed)
    cls = torch.nn.GRU if cell == "gru" else torch.nn.LSTM
    rnn = cls(inp, hidden, num_layers=layers, bidirectional=True, batch_first=True).to(DT)
    x = torch.randn(b, seq, inp, dtype=DT, requires_grad=True)
    out, final = encode(rnn, x, lengths, hidden)
    r, rf = torch.randn_like(out), torch.randn_like(final)
    ((out * r).sum() + (final * rf).sum()).backward()
    params, grads = dump(rnn_params(rnn, "", layers))
    return {"cell": cell, "hidden": hidden, "layers": layers, "x": t(x), "lengths": t(torch.tensor(lengths, dtype=DT)),
            "r": t(r), "RFinal": t(rf), "outputs": t(out), "final": t(final), "dx": t(x.grad),
            "params": params, "grads": grads}


def seq2seq_case(cell, seed, cfg, lengths, tgt_lengths, src_len, tgt_len):
    torch.manual_seed(seed)
    E, H, D, A = cfg["EmbedDim"], cfg["HiddenDim"], cfg["DecoderDim"], cfg["AttentionDim"]
    vs, vt, layers = cfg["SourceVocabSize"], cfg["TargetVocabSize"], cfg["EncoderLayers"]
    cls = torch.nn.GRU if cell == "gru" else torch.nn.LSTM
    enc = cls(E, H, num_layers=layers, bidirectional=True, batch_first=True).to(DT)
    dec = (torch.nn.GRUCell if cell == "gru" else torch.nn.LSTMCell)(E + 2 * H, D).to(DT)
    src_emb = torch.nn.Parameter(torch.randn(vs, E, dtype=DT))
    tgt_emb = torch.nn.Parameter(torch.randn(vt, E, dtype=DT))
    init = torch.nn.Linear(2 * H, D).to(DT)
    W = torch.nn.Parameter(torch.randn(D, A, dtype=DT) * D ** -0.5)
    U = torch.nn.Parameter(torch.randn(2 * H, A, dtype=DT) * (2 * H) ** -0.5)
    b_att = torch.nn.Parameter(torch.randn(A, dtype=DT) * 0.1)
    v = torch.nn.Parameter(torch.randn(A, dtype=DT) * A ** -0.5)
    head = torch.nn.Linear(D + 2 * H + E, vt).to(DT)

    b = len(lengths)
    src = torch.randint(0, vs, (b, src_len))
    tgt_in = torch.randint(0, vt, (b, tgt_len))
    targets = torch.randint(0, vt, (b, tgt_len))
    for i, n in enumerate(tgt_lengths):
        targets[i, n:] = -1
    mask = torch.arange(src_len)[None, :] < torch.tensor(lengths)[:, None]

    h, final = encode(enc, src_emb[src], lengths, H)
    keys = h @ U + b_att
    s = torch.tanh(init(final))
    mem = torch.zeros_like(s)
    outs, alphas = [], []
    for i in range(tgt_len):
        e = torch.tanh(keys + (s @ W)[:, None, :]) @ v
        alpha = torch.softmax(e.masked_fill(~mask, float("-inf")), 1)
        c = (alpha[:, :, None] * h).sum(1)
        y = tgt_emb[tgt_in[:, i]]
        if cell == "gru":
            s = dec(torch.cat([y, c], -1), s)
        else:
            s, mem = dec(torch.cat([y, c], -1), (s, mem))
        outs.append(torch.cat([s, c, y], -1))
        alphas.append(alpha)
    logits = head(torch.stack(outs, 1))
    loss = F.cross_entropy(logits.reshape(-1, vt), targets.reshape(-1), ignore_index=-1)
    loss.backward()
    # name -> (leaf, transposed to [in, out]?): W, U and the embeddings are stored as bitter has them.
    named = {"encoder/token_embeddings/embeddings": (src_emb, False), "decoder/token_embeddings/embeddings": (tgt_emb, False),
             "decoder/init/weights": (init.weight, True), "decoder/init/biases": (init.bias, False),
             "decoder/attention/query/weights": (W, False), "decoder/attention/key/weights": (U, False),
             "decoder/attention/key/biases": (b_att, False), "decoder/attention/score": (v, False),
             "decoder/cell/weights_ih": (dec.weight_ih, True), "decoder/cell/weights_hh": (dec.weight_hh, True),
             "decoder/cell/bias_ih": (dec.bias_ih, False), "decoder/cell/bias_hh": (dec.bias_hh, False),
             "head/weights": (head.weight, True), "head/biases": (head.bias, False)}
    for name, p in rnn_params(enc, "encoder/", layers).items():
        named[name] = (p, p.dim() == 2)
    params, grads = {}, {}
    for name, (p, transpose) in named.items():
        val, grad = (p.T, p.grad.T) if transpose else (p, p.grad)
        params[name], grads[name] = t(val), t(grad)
    return {"config": dict(cfg, Cell=cell, MaxSourceLen=src_len, MaxTargetLen=tgt_len), "source": t(src.to(DT)),
            "lengths": t(torch.tensor(lengths, dtype=DT)), "TargetIn": t(tgt_in.to(DT)), "targets": t(targets.to(DT)),
            "logits": t(logits), "loss": float(loss), "alignment": t(torch.stack(alphas, 1)),
            "params": params, "grads": grads}


def main():
    cfg = {"SourceVocabSize": 7, "TargetVocabSize": 6, "EmbedDim": 4, "HiddenDim": 5, "EncoderLayers": 2,
           "DecoderDim": 6, "AttentionDim": 3}
    out = {"torch_version": torch.__version__,
           "bidirectional": {"gru": bidirectional_case("gru", 1, 3, 5, 4, 3, 2, [5, 2, 3]),
                             "lstm": bidirectional_case("lstm", 2, 3, 6, 3, 4, 2, [1, 6, 4])},
           "seq2seq": {"gru": seq2seq_case("gru", 3, cfg, [5, 3, 1], [4, 2, 3], 5, 4),
                       "lstm": seq2seq_case("lstm", 4, dict(cfg, EncoderLayers=1), [4, 6], [5, 1], 6, 5)}}
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "seq2seq.json"), "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
