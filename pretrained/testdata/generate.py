#!/usr/bin/env python3
"""Reference files for GPT-2 import (package pretrained, and data's GPT-2 tokenizer), made in Python.

Run from the repository root with Debian's PyTorch and regex module
(apt-get install -y python3-torch python3-regex):

    /usr/bin/python3 pretrained/testdata/generate.py

Nothing here comes from bitter. It writes a small GPT-2 in Hugging Face's layout, as the files of
openai-community/gpt2 are laid out, with random weights and a vocabulary trained here:

  pretrained/testdata/gpt2-tiny/
    config.json        GPT2Config's fields (2 layers, 4 heads, 16 wide, 32 positions, gelu_new)
    vocab.json         token (in GPT-2's printable stand-ins for bytes) -> id, "<|endoftext|>" last
    merges.txt         "#version: 0.2", then one merge per line, by rank
    model.safetensors  float32, the hub's key names (wte.weight, h.0.attn.c_attn.weight, ...), Conv1D
                       weights [in, out], with the attn.bias mask buffers the hub's file carries
  pretrained/testdata/gpt2-tiny-bf16.safetensors
                       the same weights rounded to bfloat16, under GPT2LMHeadModel's state_dict names
                       ("transformer." prefix) and with lm_head.weight
  pretrained/testdata/golden.json
                       token ids of a text, the model's logits (float64 forward of GPT-2's equations:
                       gelu_new, LayerNorm eps 1e-5, 1/sqrt(head_dim) scores, tied head), the mean
                       next-token loss and its gradient for every weight under its hub name
  data/testdata/gpt2tok/{vocab.json,merges.txt}
                       the same vocabulary, and a copy with the ids shuffled (vocab_shuffled.json)
  data/testdata/gpt2tok/{tokenizer.json,tokenizer_pairs.json}
                       the same vocabulary in Hugging Face's single-file form (tokenizers' tokenizer.json),
                       merges as "a b" strings and, as newer versions write them, as pairs
  data/testdata/gpt2tok/expected.json
                       texts and their ids as OpenAI's encoder.py computes them (its bpe() loop:
                       the lowest-ranked pair first, every occurrence left to right), under both
                       vocabularies; chunks longer than 256 bytes included, which GPT-2 does not cut

The safetensors files are written by hand from the format's description (an 8-byte little-endian
header length, a JSON header of dtype, shape and data_offsets, the raw little-endian data).
"""
import json
import os
import random
import struct

import regex
import torch

ROOT = os.getcwd()
PAT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
MERGES = 150


def bytes_to_unicode():  # GPT-2's encoder.py
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_ENCODER = bytes_to_unicode()
BYTE_DECODER = {v: k for k, v in BYTE_ENCODER.items()}

WORDS = ("the of and to in is it that for you was with on as have be at not this but by from they his she or which "
         "we an there her all were their one would what so up out if about who get go thee thou hath doth lord king "
         "func return err nil package import range struct type über Straße naïve café Москва привет 中文 東京 ελληνικά "
         "don't we're I'll it's they've I'm he'd 12345 2026 3rd 42 1e-5 0x1F").split()
PUNCT = [".", ",", ";", ":", "!", "?", "...", "--", "(", ")", "{", "}", "!=", ":=", "'", "\"", "🙂", "€"]
SPACES = [" ", " ", " ", "  ", "\t", "\n", "\n\n", "\r\n", " \n", "\u00a0"]


def text(seed, n):
    rng = random.Random(seed)
    weights = [1 / (i + 1) for i in range(len(WORDS))]
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.65:
            out.append(rng.choices(WORDS, weights)[0])
        elif r < 0.8:
            out.append(rng.choice(PUNCT))
        else:
            out.append(rng.choice(SPACES))
        if rng.random() < 0.6:
            out.append(" ")
    return "".join(out)


def train(corpus):
    """Plain BPE on the chunks: most frequent adjacent pair, ties to the first in sorted order."""
    words = {}
    for m in PAT.findall(corpus):
        w = tuple(BYTE_ENCODER[b] for b in m.encode("utf-8"))
        words[w] = words.get(w, 0) + 1
    merges = []
    for _ in range(MERGES):
        counts = {}
        for w, c in words.items():
            for p in zip(w, w[1:]):
                counts[p] = counts.get(p, 0) + c
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        new = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + c
        words = new
    return merges


def get_pairs(word):
    return set(zip(word, word[1:]))


class Encoder:  # the encoding half of GPT-2's encoder.py
    def __init__(self, encoder, merges):
        self.encoder = encoder
        self.decoder = {v: k for k, v in encoder.items()}
        self.bpe_ranks = dict(zip(merges, range(len(merges))))

    def bpe(self, token):
        word = tuple(token)
        pairs = get_pairs(word)
        if not pairs:
            return token
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new_word.extend(word[i:])
                    break
                new_word.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        return " ".join(word)

    def encode(self, s):
        ids = []
        for token in PAT.findall(s):
            token = "".join(BYTE_ENCODER[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(token).split(" "))
        return ids

    def decode(self, ids):
        return bytearray(BYTE_DECODER[c] for c in "".join(self.decoder[i] for i in ids)).decode("utf-8")


# ---- safetensors, by hand ----
def safetensors(path, tensors, dtype):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, x in tensors:
        x = x.detach().contiguous()
        if dtype == "F32":
            raw = x.to(torch.float32).numpy().tobytes()
        elif dtype == "BF16":
            raw = x.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
        header[name] = {"dtype": dtype, "shape": list(x.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # the reference writer pads the header with spaces to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# ---- the model: GPT-2's equations, float64 ----
CFG = {"vocab_size": None, "n_positions": 32, "n_embd": 16, "n_layer": 2, "n_head": 4, "n_inner": None,
       "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "model_type": "gpt2",
       "architectures": ["GPT2LMHeadModel"], "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1,
       "initializer_range": 0.02, "scale_attn_weights": True, "use_cache": True, "bos_token_id": None,
       "eos_token_id": None, "n_ctx": 32}


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh((2.0 / torch.pi) ** 0.5 * (x + 0.044715 * torch.pow(x, 3.0))))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def forward(p, ids, cfg):
    B, T = ids.shape
    D, H = cfg["n_embd"], cfg["n_head"]
    hd = D // H
    x = p["wte.weight"][ids] + p["wpe.weight"][torch.arange(T)]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(cfg["n_layer"]):
        q = f"h.{i}."
        a = layer_norm(x, p[q + "ln_1.weight"], p[q + "ln_1.bias"], cfg["layer_norm_epsilon"])
        qkv = a @ p[q + "attn.c_attn.weight"] + p[q + "attn.c_attn.bias"]
        qs, ks, vs = qkv.split(D, dim=-1)
        qs, ks, vs = (t.reshape(B, T, H, hd).transpose(1, 2) for t in (qs, ks, vs))
        s = qs @ ks.transpose(-1, -2) / hd ** 0.5
        s = s.masked_fill(~mask, float("-inf"))
        y = (torch.softmax(s, -1) @ vs).transpose(1, 2).reshape(B, T, D)
        x = x + y @ p[q + "attn.c_proj.weight"] + p[q + "attn.c_proj.bias"]
        m = layer_norm(x, p[q + "ln_2.weight"], p[q + "ln_2.bias"], cfg["layer_norm_epsilon"])
        h = gelu_new(m @ p[q + "mlp.c_fc.weight"] + p[q + "mlp.c_fc.bias"])
        x = x + h @ p[q + "mlp.c_proj.weight"] + p[q + "mlp.c_proj.bias"]
    x = layer_norm(x, p["ln_f.weight"], p["ln_f.bias"], cfg["layer_norm_epsilon"])
    return x @ p["wte.weight"].T


def t(x):
    x = x.detach()
    return {"shape": list(x.shape), "data": [float(v) for v in x.reshape(-1).tolist()]}


def main():
    torch.manual_seed(20261127)
    corpus = text(1, 6000)
    merges = train(corpus)
    vocab = {BYTE_ENCODER[b]: i for i, b in enumerate(BYTE_ENCODER)}  # GPT-2's order: printable bytes first
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    vocab["<|endoftext|>"] = len(vocab)
    V = len(vocab)
    enc = Encoder(vocab, merges)
    rng = random.Random(7)
    shuffled_ids = list(range(V))
    rng.shuffle(shuffled_ids)
    shuffled = {k: shuffled_ids[v] for k, v in vocab.items()}
    enc_shuffled = Encoder(shuffled, merges)

    tokdir = os.path.join(ROOT, "data/testdata/gpt2tok")
    os.makedirs(tokdir, exist_ok=True)
    mergelines = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges)
    samples = [text(2, 400), text(3, 50), "Hello, world! Don't panic: it's 2026.\n\n\tfunc main() {}\n",
               " " * 600 + "x", "a" * 300 + " " + "=" * 257 + "\n" * 300 + "the" * 120,
               "the king's lord hath thee <|endoftext|> the", "ε" + "ж" * 200 + " 中文" * 3, ""]
    expected = {"samples": [{"text": s, "ids": enc.encode(s), "shuffled_ids": enc_shuffled.encode(s)} for s in samples]}
    for s in expected["samples"]:
        assert enc.decode(s["ids"]) == s["text"]
    # Hugging Face's single-file form (tokenizers' tokenizer.json), merges as "a b" strings, and the
    # newer form with merges as pairs.
    def tokenizer_json(pairs):
        return json.dumps({
            "version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [{"id": vocab["<|endoftext|>"], "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": True, "special": True}],
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                      "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                      "merges": [f"{a} {b}" for a, b in merges] if not pairs else [[a, b] for a, b in merges]},
        }, ensure_ascii=False)
    for name, content in (("vocab.json", json.dumps(vocab, ensure_ascii=False)), ("merges.txt", mergelines),
                          ("tokenizer.json", tokenizer_json(False)), ("tokenizer_pairs.json", tokenizer_json(True)),
                          ("vocab_shuffled.json", json.dumps(shuffled, ensure_ascii=False)),
                          ("expected.json", json.dumps(expected, ensure_ascii=False, indent=0))):
        with open(os.path.join(tokdir, name), "w", encoding="utf-8") as f:
            f.write(content)

    # The model.
    cfg = dict(CFG, vocab_size=V)
    D, L, P = cfg["n_embd"], cfg["n_layer"], cfg["n_positions"]
    params = {"wte.weight": torch.randn(V, D) * 0.3, "wpe.weight": torch.randn(P, D) * 0.3}
    for i in range(L):
        q = f"h.{i}."
        params[q + "ln_1.weight"] = 1 + 0.2 * torch.randn(D)
        params[q + "ln_1.bias"] = 0.1 * torch.randn(D)
        params[q + "attn.c_attn.weight"] = torch.randn(D, 3 * D) * 0.4
        params[q + "attn.c_attn.bias"] = torch.randn(3 * D) * 0.1
        params[q + "attn.c_proj.weight"] = torch.randn(D, D) * 0.3
        params[q + "attn.c_proj.bias"] = torch.randn(D) * 0.1
        params[q + "ln_2.weight"] = 1 + 0.2 * torch.randn(D)
        params[q + "ln_2.bias"] = 0.1 * torch.randn(D)
        params[q + "mlp.c_fc.weight"] = torch.randn(D, 4 * D) * 0.4
        params[q + "mlp.c_fc.bias"] = torch.randn(4 * D) * 0.1
        params[q + "mlp.c_proj.weight"] = torch.randn(4 * D, D) * 0.2
        params[q + "mlp.c_proj.bias"] = torch.randn(D) * 0.1
    params["ln_f.weight"] = 1 + 0.2 * torch.randn(D)
    params["ln_f.bias"] = 0.1 * torch.randn(D)
    # Round to float32 so the float32 file holds exactly the weights the float64 reference uses.
    params = {k: v.to(torch.float32).to(torch.float64) for k, v in params.items()}

    mdir = os.path.join(ROOT, "pretrained/testdata/gpt2-tiny")
    os.makedirs(mdir, exist_ok=True)
    with open(os.path.join(mdir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    for name in ("vocab.json", "merges.txt"):
        with open(os.path.join(tokdir, name), encoding="utf-8") as src, open(os.path.join(mdir, name), "w", encoding="utf-8") as dst:
            dst.write(src.read())
    hub = []
    for k, v in params.items():
        hub.append((k, v))
        if k.endswith("ln_1.bias"):  # the causal-mask buffer the hub's file carries after ln_1
            hub.append((k.replace("ln_1.bias", "attn.bias"), torch.tril(torch.ones(P, P)).view(1, 1, P, P)))
    safetensors(os.path.join(mdir, "model.safetensors"), hub, "F32")
    sd = [("transformer." + k, v) for k, v in params.items()] + [("lm_head.weight", params["wte.weight"])]
    safetensors(os.path.join(ROOT, "pretrained/testdata/gpt2-tiny-bf16.safetensors"), sd, "BF16")

    sample = text(4, 200)
    ids = enc.encode(sample)
    T = 20
    tokens = torch.tensor([ids[:T + 1], ids[T + 1:2 * T + 2]])
    inputs, targets = tokens[:, :T], tokens[:, 1:]
    p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    logits = forward(p, inputs, cfg)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
    loss.backward()
    bf = {k: v.to(torch.bfloat16).to(torch.float64) for k, v in params.items()}
    logits_bf = forward(bf, inputs, cfg)
    golden = {"text": sample, "tokens": inputs.tolist(), "targets": targets.tolist(), "logits": t(logits),
              "loss": float(loss), "grads": {k: t(v.grad) for k, v in p.items()}, "logits_bf16_weights": t(logits_bf)}
    with open(os.path.join(ROOT, "pretrained/testdata/golden.json"), "w") as f:
        json.dump(golden, f)
    print(f"vocab {V}, merges {len(merges)}, tokens of the sample {len(ids)}, loss {float(loss):.6f}")


if __name__ == "__main__":
    main()
