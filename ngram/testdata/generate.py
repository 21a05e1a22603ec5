"""Interpolated Kneser-Ney over bytes, transcribed from the formulas (Chen & Goodman 1998, section 3;
the discounts of Ney et al. 1994), independently of package ngram, for ngram_test.go.

  /usr/bin/python3 ngram/testdata/generate.py

Reads train.txt and heldout.txt (the first 3,000 bytes of tiny Shakespeare and the 800 after) and
writes expected.json: for orders 1 to 6, the cross-entropy of heldout.txt in bits per byte (the last
order-1 bytes of train.txt as its context) and P(w | h) for a few contexts and bytes.
"""

import json
import math
import os
from collections import defaultdict


def train(text, order):
    raw = [defaultdict(int) for _ in range(order)]  # raw[k-1][k-gram] = count
    for k in range(1, order + 1):
        for i in range(len(text) - k + 1):
            raw[k - 1][text[i:i + k]] += 1
    cont = [defaultdict(int) for _ in range(order)]  # cont[k-1][g] = N1+(. g)
    for k in range(1, order):
        for g in raw[k]:
            cont[k - 1][g[1:]] += 1

    def stats(counts):
        total, types = defaultdict(int), defaultdict(int)
        n1 = sum(1 for c in counts.values() if c == 1)
        n2 = sum(1 for c in counts.values() if c == 2)
        for g, c in counts.items():
            total[g[:-1]] += c
            types[g[:-1]] += 1
        d = 0.5 if n1 + 2 * n2 == 0 else max(n1 / (n1 + 2 * n2), 0.05)
        return total, types, d

    return {"order": order, "raw": raw, "cont": cont,
            "sraw": [stats(raw[k]) for k in range(order)],
            "scont": [stats(cont[k]) if k < order - 1 else None for k in range(order)]}


def prob(m, h, w, top=True):
    k = len(h) + 1
    counts, (total, types, d) = (m["raw"][k - 1], m["sraw"][k - 1]) if top else (m["cont"][k - 1], m["scont"][k - 1])
    lower = 1 / 256 if k == 1 else prob(m, h[1:], w, False)
    t = total.get(h, 0)
    if t == 0:
        return lower
    return max(counts.get(h + bytes([w]), 0) - d, 0) / t + d * types[h] / t * lower


def p_context(m, context, w):
    n = m["order"]
    if len(context) > n - 1:
        context = context[len(context) - (n - 1):]
    return prob(m, context, w)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    train_text = open(os.path.join(here, "train.txt"), "rb").read()
    held = open(os.path.join(here, "heldout.txt"), "rb").read()
    out = {"models": []}
    for order in range(1, 7):
        m = train(train_text, order)
        ctx = train_text[len(train_text) - (order - 1):] if order > 1 else b""
        allb = ctx + held
        bits = 0.0
        for i in range(len(ctx), len(allb)):
            bits -= math.log2(p_context(m, allb[max(0, i - (order - 1)):i], allb[i]))
        probs = []
        for context in [b"", b"e", b"th", b"the", b" the ", b"First Citizen:\n", b"zzzzz", b"\xff\xfe"]:
            for w in b"e \n:z\x00":
                probs.append({"context": list(context), "byte": w, "p": p_context(m, context, w)})
        out["models"].append({"order": order, "heldout_bits_per_byte": bits / len(held), "probs": probs})
    with open(os.path.join(here, "expected.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
