package pretrained_test

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/data"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/pretrained"
	"github.com/bitterlesson/bitter/transformer"
)

// Load a GPT-2 kept in Hugging Face's layout and continue a prompt. With the real GPT-2 the folder
// is openai-community/gpt2's files; here it is a 2-layer GPT-2 with random weights.
func ExampleLoadGPT2() {
	g, err := pretrained.LoadGPT2("testdata/gpt2-tiny") // config.json, model.safetensors, vocab.json, merges.txt
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.New()
	if err := g.Init(ctx); err != nil {
		fmt.Println(err)
		return
	}
	gen, err := transformer.NewGenerator(backend.MustShared(), ctx, g.Config)
	if err != nil {
		fmt.Println(err)
		return
	}
	var prompt []int32
	for _, id := range g.Tokenizer.Encode([]byte("the king's lord")) {
		prompt = append(prompt, int32(id))
	}
	out, err := gen.Generate(prompt, 5, lm.Sampling{Temperature: 0}) // greedy
	if err != nil {
		fmt.Println(err)
		return
	}
	ids := make([]data.Token, len(out))
	for i, id := range out {
		ids[i] = data.Token(id)
	}
	text := g.Tokenizer.Decode(ids) // random weights: random bytes
	fmt.Println(g.Config.NumParams(), "parameters,", g.Tokenizer.VocabSize(), "ids")
	fmt.Println("prompt", prompt)
	fmt.Println(len(out), "tokens,", len(text) > 0)
	// Output:
	// 13616 parameters, 407 ids
	// prompt [257 220 74 288 70 6 82 220 75 271 67]
	// 5 tokens, true
}
