// Package data turns text into training batches for a language model: tokenizers, corpora read from
// files and folders, a deterministic train/validation split, seeded random-window batches as a GoMLX
// train.Dataset, and evaluation windows that cover the whole validation split.
//
//	text, err := data.LoadCorpus([]string{"/usr/local/go/src/fmt"}, ".go")
//	tokens := data.Bytes{}.Encode(text)
//	trainTokens, valTokens, err := data.Split(tokens, 0.1)
//	ds, err := data.NewWindows(trainTokens, 32, 128, 1) // batch 32, 128 tokens, seed 1
package data
