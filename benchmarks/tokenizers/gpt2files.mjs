// Writes GPT-2's tokenizer files, vocab.json, merges.txt and Hugging Face's tokenizer.json, into the
// folder given, from the GPT-2 ranks tiktoken's npm package ships (the same ids as OpenAI's
// encoder.json): bitter's Go tokenizer and Hugging Face's then read the vocabulary tiktoken encodes
// with, and no download is needed.
//
//   node gpt2files.mjs OUT
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const gpt2 = require("tiktoken/encoders/gpt2.json");

// bpe_ranks: lines of "MARKER OFFSET tok tok ...", each token base64, ranked OFFSET, OFFSET+1, ...
const tokens = []; // rank -> Buffer
for (const line of gpt2.bpe_ranks.split("\n")) {
  const fields = line.split(" ").filter((f) => f.length > 0);
  if (fields.length < 2) continue;
  const offset = Number(fields[1]);
  fields.slice(2).forEach((b64, i) => { tokens[offset + i] = Buffer.from(b64, "base64"); });
}

// GPT-2's bytes_to_unicode: printable bytes stand for themselves, the rest map above U+0100.
const byteChar = [];
{
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) { bs.push(b); cs.push(256 + n); n++; }
  }
  bs.forEach((b, i) => { byteChar[b] = String.fromCodePoint(cs[i]); });
}
const show = (buf) => Array.from(buf, (b) => byteChar[b]).join("");

const rank = new Map(tokens.map((t, r) => [t.toString("latin1"), r]));
const vocab = {};
tokens.forEach((t, r) => { vocab[show(t)] = r; });
for (const [name, id] of Object.entries(gpt2.special_tokens)) vocab[name] = id;

// A token's merge: byte-pair encode its bytes with the ranks below its own; two parts remain.
const merges = [];
for (let r = 0; r < tokens.length; r++) {
  const t = tokens[r];
  if (t.length < 2) continue;
  let parts = Array.from(t, (b) => Buffer.from([b]));
  for (;;) {
    let best = -1, bestRank = Infinity;
    for (let i = 0; i + 1 < parts.length; i++) {
      const k = rank.get(Buffer.concat([parts[i], parts[i + 1]]).toString("latin1"));
      if (k !== undefined && k < r && k < bestRank) { best = i; bestRank = k; }
    }
    if (best < 0) break;
    parts.splice(best, 2, Buffer.concat([parts[best], parts[best + 1]]));
  }
  if (parts.length !== 2) throw new Error(`token ${r} does not end as one merge (${parts.length} parts)`);
  merges.push([r, show(parts[0]) + " " + show(parts[1])]);
}
merges.sort((a, b) => a[0] - b[0]);

const out = process.argv[2];
if (!out) throw new Error("usage: node gpt2files.mjs OUT");
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, "vocab.json"), JSON.stringify(vocab));
fs.writeFileSync(path.join(out, "merges.txt"), "#version: 0.2\n" + merges.map((m) => m[1]).join("\n") + "\n");
const hf = {
  version: "1.0",
  added_tokens: Object.entries(gpt2.special_tokens).map(([content, id]) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true })),
  normalizer: null,
  pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
  decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, vocab, merges: merges.map((m) => m[1]) },
};
fs.writeFileSync(path.join(out, "tokenizer.json"), JSON.stringify(hf));
console.log(`wrote ${out}: ${Object.keys(vocab).length} ids, ${merges.length} merges`);
