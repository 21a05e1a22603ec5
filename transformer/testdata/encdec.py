#!/usr/bin/env python3
"""Golden vectors for transformer.EncoderDecoder, in float64: torch.nn.Transformer (norm_first=True,
batch_first=True, dropout 0; its final encoder and decoder LayerNorms) between token embeddings with
positions and a linear head written here, with a source key padding mask (also the memory's) and a
causal target mask. Its parameters are mapped to bitter's scopes ([in, out] weights; in_proj split
into query, key and value).

Stored per case: the config, the parameters, source, lengths, decoder input and targets (-1 =
padding), the logits, the loss (mean cross-entropy over the real targets), its gradient with respect
to every parameter, and the last decoder block's cross-attention weights averaged over heads.

    /usr/bin/python3 transformer/testdata/encdec.py
"""
import json
import math
import os

import torch
import torch.nn.functional as F

DT = torch.float64


def t(x):
    return {"shape": list(x.shape), "data": [float(v) for v in x.detach().reshape(-1).tolist()]}


def sinusoids(n, d):
    pe = torch.zeros(n, d, dtype=DT)
    for p in range(n):
        for j in range(d):
            angle = p / 10000 ** ((j - j % 2) / d)
            pe[p, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return pe


def case(seed, cfg, lengths, tgt_lengths, src_len, tgt_len):
    torch.manual_seed(seed)
    d, heads = cfg["ModelDim"], cfg["NumHeads"]
    tr = torch.nn.Transformer(d, heads, cfg["EncoderLayers"], cfg["DecoderLayers"], cfg["FFNDim"], dropout=0.0,
                              activation=cfg["Activation"], batch_first=True, norm_first=True).to(DT)
    with torch.no_grad():  # non-zero biases and norms, so every mapping shows
        for name, p in tr.named_parameters():
            if p.dim() == 1:
                p.add_(torch.randn_like(p) * 0.1)
    vs, vt = cfg["SourceVocabSize"], cfg["TargetVocabSize"]
    tgt_emb = torch.nn.Parameter(torch.randn(vt, d, dtype=DT) * 0.5)
    src_emb = tgt_emb if cfg["ShareEmbeddings"] else torch.nn.Parameter(torch.randn(vs, d, dtype=DT) * 0.5)
    head = tgt_emb if cfg["TieEmbeddings"] else torch.nn.Parameter(torch.randn(vt, d, dtype=DT) * d ** -0.5)
    pos = {}
    if cfg["Positional"] == "learned":
        pos["encoder"] = torch.nn.Parameter(torch.randn(cfg["MaxSourceLen"], d, dtype=DT) * 0.1)
        pos["decoder"] = torch.nn.Parameter(torch.randn(cfg["MaxTargetLen"], d, dtype=DT) * 0.1)

    b = len(lengths)
    src = torch.randint(0, vs, (b, src_len))
    tgt_in = torch.randint(0, vt, (b, tgt_len))
    targets = torch.randint(0, vt, (b, tgt_len))
    for i, n in enumerate(tgt_lengths):
        targets[i, n:] = -1
    pad = torch.arange(src_len)[None, :] >= torch.tensor(lengths)[:, None]  # True = padding

    def embed(table, ids, stack, n):
        x = table[ids]
        if cfg["ScaleEmbeddings"]:
            x = x * math.sqrt(d)
        if cfg["Positional"] == "learned":
            x = x + pos[stack][:n]
        elif cfg["Positional"] == "sinusoidal":
            x = x + sinusoids(n, d)
        return x

    captured = {}
    last = tr.decoder.layers[-1].multihead_attn
    hook = last.register_forward_hook(lambda m, inp, out: captured.update(q=inp[0], mem=inp[1]))
    causal = torch.triu(torch.full((tgt_len, tgt_len), float("-inf"), dtype=DT), 1)
    y = tr(embed(src_emb, src, "encoder", src_len), embed(tgt_emb, tgt_in, "decoder", tgt_len),
           tgt_mask=causal, src_key_padding_mask=pad, memory_key_padding_mask=pad)
    hook.remove()
    logits = y @ head.T
    loss = F.cross_entropy(logits.reshape(-1, vt), targets.reshape(-1), ignore_index=-1)
    with torch.no_grad():
        _, align = last(captured["q"], captured["mem"], captured["mem"], key_padding_mask=pad, need_weights=True,
                        average_attn_weights=True)
    params = {}

    def put(name, p, transpose=False):
        params[name] = (p, transpose)

    if not cfg["ShareEmbeddings"]:
        put("encoder/token_embeddings/embeddings", src_emb)
    put("decoder/token_embeddings/embeddings", tgt_emb)
    for stack in pos:
        put(stack + "/position_embeddings/embeddings", pos[stack])
    if not cfg["TieEmbeddings"]:
        put("head/weights", head, True)

    def attn(prefix, mha):
        w, bias = mha.in_proj_weight, mha.in_proj_bias
        for i, name in enumerate(["query", "key", "value"]):
            put(f"{prefix}/{name}/weights", (w, i), True)
            put(f"{prefix}/{name}/biases", (bias, i))
        put(prefix + "/output/weights", mha.out_proj.weight, True)
        put(prefix + "/output/biases", mha.out_proj.bias)

    def norm(prefix, ln):
        put(prefix + "/gain", ln.weight)
        put(prefix + "/bias", ln.bias)

    def mlp(prefix, layer):
        put(prefix + "/up/weights", layer.linear1.weight, True)
        put(prefix + "/up/biases", layer.linear1.bias)
        put(prefix + "/down/weights", layer.linear2.weight, True)
        put(prefix + "/down/biases", layer.linear2.bias)

    for i, layer in enumerate(tr.encoder.layers):
        p = f"encoder/layer_{i}"
        norm(p + "/attention_norm", layer.norm1)
        attn(p + "/attention", layer.self_attn)
        norm(p + "/mlp_norm", layer.norm2)
        mlp(p + "/mlp", layer)
    norm("encoder/final_norm", tr.encoder.norm)
    for i, layer in enumerate(tr.decoder.layers):
        p = f"decoder/layer_{i}"
        norm(p + "/attention_norm", layer.norm1)
        attn(p + "/attention", layer.self_attn)
        norm(p + "/cross_attention_norm", layer.norm2)
        attn(p + "/cross_attention", layer.multihead_attn)
        norm(p + "/mlp_norm", layer.norm3)
        mlp(p + "/mlp", layer)
    norm("decoder/final_norm", tr.decoder.norm)

    def value(p, grad):
        if isinstance(p, tuple):  # a third of an in_proj
            full, i = p
            x = full.grad if grad else full
            return x[i * d:(i + 1) * d]
        return p.grad if grad else p

    loss.backward()
    out_params, out_grads = {}, {}
    for name, (p, transpose) in params.items():
        v, g = value(p, False), value(p, True)
        if transpose:
            v, g = v.T, g.T
        out_params[name], out_grads[name] = t(v), t(g)
    return {"config": cfg, "source": t(src.to(DT)), "lengths": t(torch.tensor(lengths, dtype=DT)),
            "TargetIn": t(tgt_in.to(DT)), "targets": t(targets.to(DT)), "logits": t(logits), "loss": float(loss),
            "alignment": t(align), "params": out_params, "grads": out_grads}


def main():
    base = {"SourceVocabSize": 7, "TargetVocabSize": 6, "MaxSourceLen": 6, "MaxTargetLen": 5, "EncoderLayers": 2,
            "DecoderLayers": 2, "ModelDim": 8, "NumHeads": 2, "FFNDim": 16}
    learned = dict(base, Activation="gelu", Positional="learned", ScaleEmbeddings=False, ShareEmbeddings=False,
                   TieEmbeddings=False)
    paper = dict(base, SourceVocabSize=6, Activation="relu", Positional="sinusoidal", ScaleEmbeddings=True,
                 ShareEmbeddings=True, TieEmbeddings=True, EncoderLayers=1, NumHeads=4)
    out = {"torch_version": torch.__version__, "cases": {
        "learned": case(1, learned, [5, 3, 1], [4, 2, 3], 5, 4),
        "paper": case(2, paper, [6, 2], [5, 1], 6, 5)}}
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "encdec.json"), "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
