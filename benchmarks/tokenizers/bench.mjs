// Times GPT-2 BPE encoding of one text by tiktoken (its WebAssembly build), js-tiktoken (pure
// JavaScript) and Hugging Face's tokenizers (Rust, through Node's N-API), each on one core, and checks
// that all three give the same ids. Prints a JSON line per tokenizer; writes tiktoken's ids to
// IDS (uint32, little-endian) for the Go side to compare with.
//
//   RAYON_NUM_THREADS=1 node bench.mjs TEXT GPT2DIR IDS [RUNS]
import fs from "node:fs";
import path from "node:path";
import { get_encoding } from "tiktoken";
import { Tiktoken } from "js-tiktoken/lite";
import gpt2Ranks from "js-tiktoken/ranks/gpt2";
import { Tokenizer } from "tokenizers";

const here = path.dirname(new URL(import.meta.url).pathname);
const version = (name) => JSON.parse(fs.readFileSync(path.join(here, "node_modules", name, "package.json"), "utf8")).version;
const [textPath, gpt2Dir, idsPath, runsArg] = process.argv.slice(2);
if (!idsPath) throw new Error("usage: node bench.mjs TEXT GPT2DIR IDS [RUNS]");
const runs = Number(runsArg ?? 3);
const text = fs.readFileSync(textPath, "utf8");
const bytes = Buffer.byteLength(text, "utf8");

const wasm = get_encoding("gpt2");
const js = new Tiktoken(gpt2Ranks);
const hf = Tokenizer.fromFile(path.join(gpt2Dir, "tokenizer.json"));
const hfEncode = async (s) => (await hf.encode(s, null, { addSpecialTokens: false })).getIds();
// In pieces of 65,536 characters, one call each, as a corpus of documents is encoded (the ids differ
// from the whole text's where a cut falls inside a word).
const inPieces = (encode) => async (s) => {
  const parts = [];
  let n = 0;
  for (let i = 0; i < s.length; i += 65536) {
    const ids = await encode(s.slice(i, i + 65536));
    parts.push(ids);
    n += ids.length;
  }
  const out = new Uint32Array(n);
  let at = 0;
  for (const ids of parts) {
    out.set(ids, at);
    at += ids.length;
  }
  return out;
};
const peers = [
  { name: "tiktoken", version: version("tiktoken"), encode: async (s) => wasm.encode_ordinary(s) },
  { name: "js-tiktoken", version: version("js-tiktoken"), encode: async (s) => js.encode(s) },
  { name: "tokenizers", version: version("tokenizers"), encode: hfEncode },
  { name: "tiktoken (64 Ki-character pieces)", version: version("tiktoken"), encode: inPieces(async (s) => wasm.encode_ordinary(s)), pieces: true },
  { name: "tokenizers (64 Ki-character pieces)", version: version("tokenizers"), encode: inPieces(hfEncode), pieces: true },
];

let reference = null;
for (const p of peers) {
  const seconds = [];
  let ids = null;
  for (let r = 0; r < runs; r++) {
    const start = process.hrtime.bigint();
    ids = await p.encode(text);
    seconds.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  ids = Uint32Array.from(ids);
  if (reference === null) {
    reference = ids;
    fs.writeFileSync(idsPath, Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength));
  }
  let same = ids.length === reference.length;
  for (let i = 0; same && i < ids.length; i++) same = ids[i] === reference[i];
  if (p.pieces) same = undefined; // cut words encode differently
  const sorted = seconds.slice().sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  console.log(JSON.stringify({ name: p.name, version: p.version, bytes, tokens: ids.length, same_ids_as_tiktoken: same,
    seconds, mb_per_s: bytes / 1e6 / median }));
}
wasm.free();
