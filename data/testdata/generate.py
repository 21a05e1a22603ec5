#!/usr/bin/env python3
"""Reference vectors for package data's byte-level BPE, computed independently in Python.

Run from the repository root with Debian's regex module (apt-get install -y python3-regex):

    /usr/bin/python3 data/testdata/generate.py

The split is each pattern itself run by the regex module (GPT-2's, as GPT-2's encoder.py and tiktoken
run it, and GPT-4's cl100k_base, as tiktoken writes it), on the text decoded with surrogateescape so that every byte that is not UTF-8 is one character of
its own; each match is then cut to at most 256 bytes at character boundaries (bitter's MaxChunk).
Training is the plain algorithm: recount every pair of every distinct chunk before each merge and
take the most frequent, the smallest pair on ties. Encoding applies every merge in order to each
chunk (the definition), not the earliest-merge-first loop bitter runs.

It writes, in data/testdata/:
  - bpe_train.txt, bpe_test.txt: the training and held-out texts (bytes, not all UTF-8);
  - bpe.json: for each pattern, the chunk boundaries of both texts, the merges learned on
    bpe_train.txt for a vocabulary of 256 + MERGES ids, and the ids of bpe_test.txt under them.
"""
import json
import os
import random
from collections import Counter

import regex

PATTERNS = {
    "gpt2": regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""),
    # As tiktoken writes cl100k_base since 0.8 (possessive quantifiers, and blank space that runs to
    # the end of the text is one piece: "a\n " is "a", "\n " where the 2023 pattern made "a", "\n", " ").
    "cl100k": regex.compile(
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
    ),
}
# Short texts whose pieces bpe.json lists whole, for each pattern: blank space at the end of a text.
CASES = ["a\n ", "x \n", "end  ", "a\n\n", "\n", "  ", "a \t\n \n", "} \n", "a\nb ", "if x {\n\t\n", " x\u00a0"]
MAX_CHUNK = 256
MERGES = 600

WORDS = (
    "the of and to in is it that for you was with on as have be at not this but by from they his "
    "she or which we an there her all were their one would what so up out if about who get which go "
    "func return err nil package import range struct type interface make len append string int "
    "über Straße naïve café Москва привет 中文 東京 ελληνικά שלום مرحبا ١٢٣ ½ Ⅻ ² 3rd 42 1e-5 0x1F "
    "don't we're I'll it's they've I'm he'd O'S 'tis rock'n'roll isn't WE'RE I'LL 'ſ 12345 2026 ٣٤٥٦"
).split()
PUNCT = [".", ",", ";", ":", "!", "?", "...", "--", "(", ")", "{", "}", "[]", "!=", ":=", "->", "//", "'", "\"", "🙂", "€",
         "{\n", "}\n\n", ");\r\n", "\tif", "\t\treturn"]
SPACES = [" ", " ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\n\t\t", " \n", "\u00a0", "\u3000", "\u2003 ", "\x0b"]
ODD = [
    b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe2\x82", b"\xf0\x9f", b"\xef\xbf\xbd",  # invalid UTF-8, and U+FFFD itself
    "e\u0301".encode(), "\u200b".encode(), b"\x00\x1c\x1f",  # a combining mark, a zero-width space, controls
    b"a" * 300, " ".encode() * 600, "ж".encode() * 200, b"7" * 300, b"=" * 257,  # runs past MAX_CHUNK
    b"'s'S 're'RE 'll ' s", b"  'll", b"x\n\ny", b" \t x", b"end  ", b"  \n\n \t x", b"\n foo", b"x \n",
    "'\u017f '\u212a".encode(), b" (x", b"((x", b"\r\n\r\n\tx",
]


def text(seed, n):
    rng = random.Random(seed)
    out = []
    weights = [1 / (i + 1) for i in range(len(WORDS))]  # Zipf-like
    for _ in range(n):
        r = rng.random()
        if r < 0.6:
            out.append(rng.choices(WORDS, weights)[0].encode())
        elif r < 0.75:
            out.append(rng.choice(PUNCT).encode())
        elif r < 0.98:
            out.append(rng.choice(SPACES).encode())
        else:
            out.append(rng.choice(ODD))
        if rng.random() < 0.5:
            out.append(b" ")
    return b"".join(out)


def chunks(data, pattern):
    s = data.decode("utf-8", "surrogateescape")
    assert s.encode("utf-8", "surrogateescape") == data
    out = []
    for m in PATTERNS[pattern].findall(s):
        piece = b""
        for ch in m:
            cb = ch.encode("utf-8", "surrogateescape")
            if len(piece) + len(cb) > MAX_CHUNK:
                out.append(piece)
                piece = b""
            piece += cb
        out.append(piece)
    assert b"".join(out) == data
    return out


def merge(ids, pair, new):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def train(data, pattern, n_merges):
    words = Counter(chunks(data, pattern))
    seqs = {w: list(w) for w in words}
    merges = []
    while len(merges) < n_merges:
        stats = Counter()
        for w, n in words.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                stats[(a, b)] += n
        if not stats:
            break
        best = min(stats, key=lambda p: (-stats[p], p))
        new = 256 + len(merges)
        merges.append(best)
        for w in seqs:
            seqs[w] = merge(seqs[w], best, new)
    return merges


def encode(data, pattern, merges):
    ids = []
    for c in chunks(data, pattern):
        seq = list(c)
        for i, p in enumerate(merges):
            seq = merge(seq, p, 256 + i)
        ids.extend(seq)
    return ids


def bounds(data, pattern):
    ends, n = [], 0
    for c in chunks(data, pattern):
        n += len(c)
        ends.append(n)
    return ends


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    train_text, test_text = text(1127, 6000), text(2026, 1500) + b"".join(ODD)
    with open(os.path.join(here, "bpe_train.txt"), "wb") as f:
        f.write(train_text)
    with open(os.path.join(here, "bpe_test.txt"), "wb") as f:
        f.write(test_text)
    out = {"max_chunk": MAX_CHUNK, "patterns": {},
           "cases": {p: {c: [x.decode() for x in chunks(c.encode(), p)] for c in CASES} for p in PATTERNS}}
    for pattern in PATTERNS:
        merges = train(train_text, pattern, MERGES)
        out["patterns"][pattern] = {
            "train_chunk_ends": bounds(train_text, pattern),
            "test_chunk_ends": bounds(test_text, pattern),
            "merges": [list(p) for p in merges],
            "test_ids": encode(test_text, pattern, merges),
        }
        print(f"{pattern}: {len(merges)} merges, {len(out['patterns'][pattern]['test_ids'])} test ids")
    with open(os.path.join(here, "bpe.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"{len(train_text)} + {len(test_text)} bytes")


if __name__ == "__main__":
    main()
