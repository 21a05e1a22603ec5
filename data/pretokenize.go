package data

import (
	"iter"
	"unicode"
	"unicode/utf8"
)

// MaxChunk is the longest piece of text, in bytes, that [BPE] trains and encodes as one unit; no
// token spans more. Longer pieces of GPT-2's split (a megabyte of letters with no space, a DNA
// sequence, a run of blank space) are cut into pieces of at most MaxChunk bytes at character
// boundaries, which keeps training and encoding linear in the text.
const MaxChunk = 256

// Character classes of GPT-2's split.
const (
	classSpace  = iota // unicode.IsSpace: Unicode's White_Space property
	classLetter        // unicode.IsLetter: categories L
	classNumber        // unicode.IsNumber: categories N
	classOther         // the rest, and each byte of invalid UTF-8
)

func classAt(text []byte, i int) (class, size int) {
	r, size := utf8.DecodeRune(text[i:]) // a byte that is not UTF-8: U+FFFD, size 1, a symbol
	switch {
	case unicode.IsSpace(r):
		return classSpace, size
	case unicode.IsLetter(r):
		return classLetter, size
	case unicode.IsNumber(r):
		return classNumber, size
	}
	return classOther, size
}

// runEnd returns the end of the run of characters of one class that starts at i.
func runEnd(text []byte, i, class int) int {
	for i < len(text) {
		c, size := classAt(text, i)
		if c != class {
			break
		}
		i += size
	}
	return i
}

// Chunks yields the consecutive pieces of text that GPT-2's pre-tokenizer splits it into, each
// cut to at most [MaxChunk] bytes; the pieces concatenate to text. GPT-2's pattern (Radford
// et al. 2019, as in tiktoken's "gpt2" encoding) is
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// a contraction, a run of letters, of digits or of other symbols with at most one space before it,
// or blank space (of which the last character joins what follows when that is not blank). Go's
// regexp has no look-ahead, so this is the pattern written out by hand; the test checks it
// against Python's regex module on the pattern itself. Bytes that are not UTF-8 count as symbols.
func Chunks(text []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) { chunks(text, yield) }
}

func chunks(text []byte, yield func([]byte) bool) {
	for i := 0; i < len(text); {
		end := chunkEnd(text, i)
		for i < end { // cut at character boundaries to at most MaxChunk bytes
			j := i
			for j < end {
				_, size := classAt(text, j)
				if j+size-i > MaxChunk {
					break
				}
				j += size
			}
			if !yield(text[i:j]) {
				return
			}
			i = j
		}
	}
}

// chunkEnd returns the end of the match of GPT-2's pattern that starts at i < len(text).
func chunkEnd(text []byte, i int) int {
	if text[i] == '\'' && i+1 < len(text) {
		switch text[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		}
		if i+2 < len(text) {
			switch string(text[i+1 : i+3]) {
			case "re", "ve", "ll":
				return i + 3
			}
		}
	}
	class, size := classAt(text, i)
	if text[i] == ' ' && i+1 < len(text) {
		// " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": one space joins the run after it.
		if next, _ := classAt(text, i+1); next != classSpace {
			return runEnd(text, i+1, next)
		}
	}
	if class != classSpace {
		return runEnd(text, i, class)
	}
	end := runEnd(text, i, classSpace)
	if end == len(text) {
		return end // "\s+(?!\S)" takes blank space up to the end
	}
	// "\s+(?!\S)" leaves the last blank character to join what follows; a single one is "\s+".
	_, lastSize := utf8.DecodeLastRune(text[i:end])
	last := end - lastSize
	if last > i {
		return last
	}
	return i + size
}
