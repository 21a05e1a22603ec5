// Package data turns text into training batches for a language model: tokenizers (bytes, a
// byte-level BPE trained on the corpus within GPT-2's or GPT-4's pre-tokenizer, and GPT-2's own read
// from its vocabulary and merges files), corpora read from files and folders, a
// deterministic train/validation split, seeded random-window batches as a GoMLX train.Dataset,
// evaluation windows that cover the whole validation split, and token shards in llm.c's format,
// memory-mapped ([WriteShard], [ShardWriter], [OpenShard], [OpenHeaderless] for nanoGPT's .bin files):
// [Prepare] tokenizes files of any size into a shard folder on every core, [OpenShardFolder] opens
// one, and [NewWindowsFrom] draws training windows across its shards.
//
//	text, err := data.LoadCorpus([]string{"/usr/local/go/src/fmt"}, ".go")
//	trainText, valText, err := data.Split(text, 0.1)
//	bpe, err := data.TrainBPE(trainText, 4096, data.GPT2) // or data.Bytes{}: one token per byte,
//	                                                      // or data.LoadGPT2Tokenizer("gpt2"): GPT-2's
//	ds, err := data.NewWindows(bpe.Encode(trainText), 32, 128, 1) // batch 32, 128 tokens, seed 1
//
//	_, err = data.Prepare(ctx, data.PrepareConfig{Inputs: []string{"owt/"}, Out: "shards", Tokenizer: bpe, EOT: -1, ValFrac: 0.01})
//	f, err := data.OpenShardFolder("shards")                       // f.Train, f.Val: memory-mapped
//	ds, err = data.NewWindowsFrom(data.Sources(f.Train), 32, 128, 1)
package data
