"""Writes token shards as llm.c writes them, for data/shard_test.go.

llm.c's dev/data/data_common.py write_datafile, transcribed with the standard library (struct) where it
uses numpy: a header of 256 little-endian int32 (magic 20240520, version, token count, zeros), then the
tokens, uint16 for version 1. Version 2, uint32 tokens, is bitter's own extension, written the same way.
nanoGPT's prepare.py writes train.bin / val.bin as bare uint16 tokens (np.uint16 .tofile): headerless.bin.

  /usr/bin/python3 data/testdata/shards/generate.py
"""

import json
import os
import random
import struct


def write_datafile(path, toks, version):
    assert len(toks) < 2**31, "token count too large"
    header = [0] * 256
    header[0] = 20240520  # magic
    header[1] = version
    header[2] = len(toks)
    fmt = "<%dH" if version == 1 else "<%dI"
    if version == 1:
        assert all(0 <= t < 2**16 for t in toks), "token dictionary too large for uint16"
    with open(path, "wb") as f:
        f.write(struct.pack("<256i", *header))
        f.write(struct.pack(fmt % len(toks), *toks))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    rng = random.Random(20240520)
    v1 = [rng.randrange(50257) for _ in range(3000)] + [0, 50256, 65535]
    v2 = [rng.randrange(200000) for _ in range(2000)] + [0, 65536, 2**32 - 1]
    bare = [rng.randrange(50257) for _ in range(1001)]
    write_datafile(os.path.join(here, "llmc_v1.bin"), v1, 1)
    write_datafile(os.path.join(here, "bitter_v2.bin"), v2, 2)
    with open(os.path.join(here, "headerless.bin"), "wb") as f:
        f.write(struct.pack("<%dH" % len(bare), *bare))
    with open(os.path.join(here, "tokens.json"), "w") as f:
        json.dump({"llmc_v1.bin": v1, "bitter_v2.bin": v2, "headerless.bin": bare}, f)
    print(len(v1), len(v2), len(bare))


if __name__ == "__main__":
    main()
