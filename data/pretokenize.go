package data

import (
	"fmt"
	"iter"
	"unicode"
	"unicode/utf8"
)

// MaxChunk is the longest piece of text, in bytes, that [BPE] trains and encodes as one unit; no
// token spans more. Longer pieces of a split (a megabyte of letters with no space, a DNA sequence,
// a run of blank space) are cut into pieces of at most MaxChunk bytes at character boundaries,
// which keeps training and encoding linear in the text.
const MaxChunk = 256

// Pattern is the pre-tokenizer of a [BPE]: the regular expression that cuts text into the chunks
// merges stay within. Go's regexp has no look-ahead, so each is written out by hand; the tests
// check both against Python's regex module running the patterns themselves. Bytes that are not
// UTF-8 count as symbols.
type Pattern string

// Patterns.
const (
	// GPT2 is GPT-2's pattern (Radford et al. 2019; tiktoken's "gpt2" and "r50k_base"):
	//
	//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
	//
	// a contraction, a run of letters, of digits or of other symbols with at most one space
	// before it, or blank space (whose last character joins what follows when that is not blank).
	GPT2 Pattern = "gpt2"
	// CL100K is GPT-4's pattern (tiktoken's "cl100k_base", as tiktoken writes it since 0.8):
	//
	//	'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s
	//
	// which suits code better: a tab or symbol joins the word after it, digits go in threes, line
	// breaks join the symbols before them and the blank space up to them, and blank space that ends
	// the text is one piece (the 2023 pattern, with \s*[\r\n]+ and no \s++$, cut "a\n " as "a", "\n", " ").
	CL100K Pattern = "cl100k"
)

// Check returns an error unless s is one of the patterns.
func (s Pattern) Check() error {
	if s != GPT2 && s != CL100K {
		return fmt.Errorf("bpe: pattern %q is not %s or %s", string(s), GPT2, CL100K)
	}
	return nil
}

// Character classes of the patterns.
const (
	classSpace  = iota // unicode.IsSpace: Unicode's White_Space property
	classLetter        // unicode.IsLetter: categories L
	classNumber        // unicode.IsNumber: categories N
	classOther         // the rest, and each byte of invalid UTF-8
)

// runeClass returns the class of r.
func runeClass(r rune) int {
	switch {
	case unicode.IsSpace(r):
		return classSpace
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	}
	return classOther
}

// asciiClass holds runeClass of each ASCII character.
var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		t[c] = uint8(runeClass(rune(c)))
	}
	return t
}()

// classAt returns the class and size of the character at text[i].
func classAt(text []byte, i int) (class, size int) {
	if c := text[i]; c < utf8.RuneSelf {
		return int(asciiClass[c]), 1
	}
	r, size := utf8.DecodeRune(text[i:]) // a byte that is not UTF-8: U+FFFD, size 1, a symbol
	return runeClass(r), size
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

// Chunks yields the consecutive pieces of text that the pattern cuts it into, each cut to at most
// [MaxChunk] bytes; the pieces concatenate to text. s must be one of the patterns.
func (s Pattern) Chunks(text []byte) iter.Seq[[]byte] { return s.chunks(text, MaxChunk) }

// chunks is Chunks with the cut at limit bytes, or none when limit is 0.
func (s Pattern) chunks(text []byte, limit int) iter.Seq[[]byte] {
	if limit <= 0 {
		limit = len(text)
	}
	end := gpt2End
	if s == CL100K {
		end = cl100kEnd
	}
	return func(yield func([]byte) bool) {
		for i := 0; i < len(text); {
			e := end(text, i)
			for i < e { // cut at character boundaries to at most MaxChunk bytes
				j := i
				for j < e {
					_, size := classAt(text, j)
					if j+size-i > limit && j > i {
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
}

// contraction returns the length of the contraction 's, 't, 're, 've, 'm, 'll or 'd at i (0 when
// there is none), with letters compared exactly or, when fold is set, under Unicode's simple case
// folding as (?i) does (so 'S, 'RE and 'ſ count).
func contraction(text []byte, i int, fold bool) int {
	if text[i] != '\'' {
		return 0
	}
	letter := func(j int, want rune) int { // the size of the rune at j when it matches want, else 0
		if j >= len(text) {
			return 0
		}
		r, size := utf8.DecodeRune(text[j:])
		if r == want || (fold && r != utf8.RuneError && equalFold(r, want)) {
			return size
		}
		return 0
	}
	for _, c := range [...]string{"s", "t", "re", "ve", "m", "ll", "d"} {
		j := i + 1
		for _, want := range c {
			n := letter(j, want)
			if n == 0 {
				j = -1
				break
			}
			j += n
		}
		if j > 0 {
			return j - i
		}
	}
	return 0
}

// equalFold reports whether a and b are equal under simple case folding.
func equalFold(a, b rune) bool {
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return a == b
}

// blankEnd returns the end of "\s+(?!\S)|\s+" at i, where a blank run starts: all of the run when it
// ends the text, else all but its last character, or that one character when it is alone.
func blankEnd(text []byte, i int) int {
	end := runEnd(text, i, classSpace)
	if end == len(text) {
		return end
	}
	_, lastSize := utf8.DecodeLastRune(text[i:end])
	if last := end - lastSize; last > i {
		return last
	}
	return end
}

// gpt2End returns the end of the match of GPT2's pattern that starts at i < len(text).
func gpt2End(text []byte, i int) int {
	if n := contraction(text, i, false); n > 0 {
		return i + n
	}
	class, _ := classAt(text, i)
	if text[i] == ' ' && i+1 < len(text) {
		// " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": one space joins the run after it.
		if next, _ := classAt(text, i+1); next != classSpace {
			return runEnd(text, i+1, next)
		}
	}
	if class != classSpace {
		return runEnd(text, i, class)
	}
	return blankEnd(text, i)
}

// cl100kEnd returns the end of the match of CL100K's pattern that starts at i < len(text).
func cl100kEnd(text []byte, i int) int {
	if n := contraction(text, i, true); n > 0 {
		return i + n
	}
	class, size := classAt(text, i)
	isBreak := text[i] == '\r' || text[i] == '\n'
	// "[^\r\n\p{L}\p{N}]?\p{L}+": a letter run, with one character before it that is not a line
	// break, letter or digit.
	if class == classLetter {
		return runEnd(text, i, classLetter)
	}
	if class != classNumber && !isBreak && i+size < len(text) {
		if next, _ := classAt(text, i+size); next == classLetter {
			return runEnd(text, i+size, classLetter)
		}
	}
	if class == classNumber { // "\p{N}{1,3}"
		j := i
		for k := 0; k < 3 && j < len(text); k++ {
			c, n := classAt(text, j)
			if c != classNumber {
				break
			}
			j += n
		}
		return j
	}
	// " ?[^\s\p{L}\p{N}]+[\r\n]*": symbols, with at most one space before them and the line breaks
	// after them.
	start := i
	if text[i] == ' ' && i+1 < len(text) {
		start = i + 1
	}
	if c, _ := classAt(text, start); c == classOther {
		j := runEnd(text, start, classOther)
		for j < len(text) && (text[j] == '\r' || text[j] == '\n') {
			j++
		}
		return j
	}
	// Here text[i] is blank. "\s++$": blank space that runs to the end of the text is one piece.
	end := runEnd(text, i, classSpace)
	if end == len(text) {
		return end
	}
	// "\s*[\r\n]": blank space up to and with its last line break.
	for j := end - 1; j >= i; j-- {
		if text[j] == '\r' || text[j] == '\n' {
			return j + 1
		}
	}
	return blankEnd(text, i)
}

// segments cuts text into at most n consecutive pieces, each at least minSegment bytes but the
// last, at places where both patterns start a chunk, in the text and in the piece before: after a
// line break that is the only blank character between two that are not blank. (Letters, digits and
// symbols stop at the line break; GPT-4's symbols take it and stop after it; a lone line break before
// a character that is not blank is a chunk of its own, and so it is at the end of a piece. A longer
// blank run would not do: at the end of a piece all of it is one chunk, before a character that is
// not blank its last character is split off.) So the chunks of the pieces are the chunks of the
// text, and the pieces can be counted and encoded in parallel.
func segments(text []byte, n int) [][]byte {
	var out [][]byte
	for len(text) > 0 {
		if n <= 1 || len(text) < 2*minSegment {
			return append(out, text)
		}
		cut := -1
		for i := max(len(text)/n, minSegment); i < len(text); i++ {
			if text[i-1] != '\n' {
				continue
			}
			before, _ := utf8.DecodeLastRune(text[:i-1])
			if after, _ := classAt(text, i); after != classSpace && runeClass(before) != classSpace {
				cut = i
				break
			}
		}
		if cut < 0 {
			return append(out, text)
		}
		out = append(out, text[:cut])
		text, n = text[cut:], n-1
	}
	return out
}

// minSegment is the smallest piece segments cuts, so that small texts stay whole.
const minSegment = 1 << 20
