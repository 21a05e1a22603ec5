// Package grok reproduces grokking (Power et al. 2022, "Grokking: Generalization Beyond Overfitting on
// Small Algorithmic Datasets"; Nanda et al. 2023, "Progress measures for grokking via mechanistic
// interpretability"): a small Transformer trained on part of the table of a ∘ b mod p memorises it
// quickly and generalises to the rest much later, driven by weight decay.
package grok

import (
	"fmt"
	"math/rand/v2"
)

// Op is a binary operation mod p.
type Op string

// Operations.
const (
	Add Op = "+" // a + b mod p
	Sub Op = "-" // a - b mod p
	Div Op = "/" // a · b⁻¹ mod p, b ≠ 0 (p prime)
)

// Example is one equation "a op b =" with its answer.
type Example struct{ A, B, C int }

// Tokens of an equation: the numbers 0..p-1 are their own ids; then the operation and "=".
func (p Params) opToken() int32 { return int32(p.P) }
func (p Params) eqToken() int32 { return int32(p.P + 1) }
func (p Params) vocabSize() int { return p.P + 2 }
func (e Example) tokens(p Params) []int32 {
	return []int32{int32(e.A), p.opToken(), int32(e.B), p.eqToken()}
}

// Table returns every equation of op mod p, each pair (a, b) exactly once, in order: b ranges over
// 1..p-1 for division, 0..p-1 otherwise. p must be a prime above 2 (so every b ≠ 0 has an inverse).
func Table(op Op, p int) ([]Example, error) {
	if p < 3 || !isPrime(p) {
		return nil, fmt.Errorf("p = %d must be a prime of at least 3", p)
	}
	var out []Example
	for a := range p {
		for b := range p {
			var c int
			switch op {
			case Add:
				c = (a + b) % p
			case Sub:
				c = ((a-b)%p + p) % p
			case Div:
				if b == 0 {
					continue
				}
				c = a * modInverse(b, p) % p
			default:
				return nil, fmt.Errorf("operation %q is not one of +, -, /", op)
			}
			out = append(out, Example{A: a, B: b, C: c})
		}
	}
	return out, nil
}

// Split shuffles the table with seed and returns the first frac of it as training, the rest as
// test: disjoint, together the whole table. frac must leave both sides non-empty.
func Split(table []Example, frac float64, seed uint64) (train, test []Example, err error) {
	n := int(float64(len(table))*frac + 0.5)
	if n < 1 || n >= len(table) {
		return nil, nil, fmt.Errorf("training fraction %g of %d equations leaves a side empty", frac, len(table))
	}
	perm := rand.New(rand.NewPCG(seed, 0x67726f6b)).Perm(len(table))
	for i, j := range perm {
		if i < n {
			train = append(train, table[j])
		} else {
			test = append(test, table[j])
		}
	}
	return train, test, nil
}

func isPrime(n int) bool {
	for d := 2; d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return n >= 2
}

// modInverse returns b⁻¹ mod p for prime p, by Fermat: b^(p-2).
func modInverse(b, p int) int {
	result, base, e := 1, b%p, p-2
	for e > 0 {
		if e&1 == 1 {
			result = result * base % p
		}
		base = base * base % p
		e >>= 1
	}
	return result
}
