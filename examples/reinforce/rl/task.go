// Package rl is the library behind examples/reinforce: reinforcement-learning fine-tuning of a
// small byte-level Transformer language model with REINFORCE (with a baseline and per-token
// discounted returns) or GRPO (group-normalised advantages, clipped ratio, k3 KL penalty to a
// frozen reference), against rewards written in Go.
package rl

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Problem is one addition a + b with 0 <= a, b < 100. Its prompt is "aa+bb=" (operands zero-padded,
// so every prompt is 6 bytes); the expected completion is the sum in decimal and a newline.
type Problem struct{ A, B int }

// PromptLen is the length of every prompt in bytes.
const PromptLen = 6

// Prompt is "aa+bb=".
func (p Problem) Prompt() string { return fmt.Sprintf("%02d+%02d=", p.A, p.B) }

// Answer is the sum in decimal, no leading zeros.
func (p Problem) Answer() string { return strconv.Itoa(p.A + p.B) }

// Line is the pretraining text of p: prompt, answer, newline.
func (p Problem) Line() string { return p.Prompt() + p.Answer() + "\n" }

// Problems returns the 10,000 additions split at random (seeded) into a training part and a
// held-out part of heldOutFrac: held-out problems are never pretrained or trained on.
func Problems(heldOutFrac float64, seed uint64) (train, heldOut []Problem, err error) {
	if !(heldOutFrac > 0 && heldOutFrac < 1) {
		return nil, nil, fmt.Errorf("held-out fraction %g must be in (0, 1)", heldOutFrac)
	}
	all := make([]Problem, 0, 100*100)
	for a := range 100 {
		for b := range 100 {
			all = append(all, Problem{a, b})
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x70726f62))
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	n := int(heldOutFrac * float64(len(all)))
	return all[n:], all[:n], nil
}

// Completion is the episode in a generated continuation: the bytes up to and including the first
// newline, or all of them when there is none (the episode was cut at the length limit).
func Completion(generated []byte) []byte {
	if i := strings.IndexByte(string(generated), '\n'); i >= 0 {
		return generated[:i+1]
	}
	return generated
}

// Reward scores a completion (as cut by Completion) of a problem's prompt, in [0, 1].
type Reward func(p Problem, completion []byte) float64

// Correct is 1 when the completion is the right sum followed by a newline, else 0.
func Correct(p Problem, completion []byte) float64 {
	if string(completion) == p.Answer()+"\n" {
		return 1
	}
	return 0
}

// Even is a reward about form, not truth: 1 when the completion is a well-formed number (digits,
// no leading zero unless it is 0, then a newline) whose value is even, else 0.
func Even(_ Problem, completion []byte) float64 {
	s, ok := strings.CutSuffix(string(completion), "\n")
	if !ok || s == "" || (len(s) > 1 && s[0] == '0') {
		return 0
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
	}
	if (s[len(s)-1]-'0')%2 == 0 {
		return 1
	}
	return 0
}

// Rewards are the selectable rewards (-reward).
var Rewards = map[string]Reward{"correct": Correct, "even": Even}
