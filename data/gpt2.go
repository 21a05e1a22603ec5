package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// GPT2Tokenizer is a byte-level BPE read from the files GPT-2 and Hugging Face ship it in: a
// vocabulary (vocab.json, GPT-2's encoder.json) that maps each token, written in GPT-2's printable
// stand-ins for bytes ("Ġ" for a space), to its id, and the merges in rank order (merges.txt,
// GPT-2's vocab.bpe). It encodes as GPT-2's encoder.py does: GPT-2's pattern ([GPT2]) cuts the text,
// and within each chunk the lowest-ranked pair present merges first, every occurrence left to right.
// Chunks are not cut at [MaxChunk] (GPT-2 doesn't); long ones are merged through a heap, so a
// megabyte of blanks stays fast. Encode treats "<|endoftext|>" in the text as text, like tiktoken's
// encode_ordinary; the id of a special token is [GPT2Tokenizer.Special]'s. A GPT2Tokenizer is
// immutable and safe for concurrent use; it marshals to text (see [GPT2Tokenizer.MarshalText]).
type GPT2Tokenizer struct {
	m       merger
	size    int
	special map[string]Token
	vocab   []byte // the vocabulary as compact JSON, and the merges file, for MarshalText
	merges  []byte
}

// VocabFiles are the names, in a model's folder, of the vocabulary and merges files
// [LoadGPT2Tokenizer] looks for, Hugging Face's first and then GPT-2's own.
var VocabFiles = [2][]string{{"vocab.json", "encoder.json"}, {"merges.txt", "vocab.bpe"}}

// TokenizerJSON is the name of Hugging Face's single-file tokenizer, which [LoadGPT2Tokenizer]
// reads when dir has no vocabulary and merges files.
const TokenizerJSON = "tokenizer.json"

// LoadGPT2Tokenizer reads the tokenizer in dir: vocab.json (or encoder.json) and merges.txt (or
// vocab.bpe), else tokenizer.json (see [ReadTokenizerJSON]).
func LoadGPT2Tokenizer(dir string) (*GPT2Tokenizer, error) {
	var content [2][]byte
	for k, names := range VocabFiles {
		for _, name := range names {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("gpt2 tokenizer: %w", err)
			}
			content[k] = b
			break
		}
		if content[k] == nil {
			single, err := os.ReadFile(filepath.Join(dir, TokenizerJSON))
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("gpt2 tokenizer: %s holds neither %s (nor %s)", dir, strings.Join(names, " nor "), TokenizerJSON)
			}
			if err != nil {
				return nil, fmt.Errorf("gpt2 tokenizer: %w", err)
			}
			return ReadTokenizerJSON(single)
		}
	}
	return ReadGPT2Tokenizer(content[0], content[1])
}

// ReadTokenizerJSON builds the tokenizer from Hugging Face's tokenizer.json when it holds GPT-2's
// kind of tokenizer: a BPE model (its vocab and merges, as "a b" strings or as pairs) after the
// ByteLevel pre-tokenizer with GPT-2's regex and no prefix space, and no normalizer. Added tokens
// missing from the vocabulary join it as special tokens. Anything else is an error that says what.
func ReadTokenizerJSON(content []byte) (*GPT2Tokenizer, error) {
	var f struct {
		Normalizer   json.RawMessage `json:"normalizer"`
		PreTokenizer *struct {
			Type           string `json:"type"`
			AddPrefixSpace bool   `json:"add_prefix_space"`
			UseRegex       *bool  `json:"use_regex"`
		} `json:"pre_tokenizer"`
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
		Model struct {
			Type   string          `json:"type"`
			Vocab  map[string]int  `json:"vocab"`
			Merges json.RawMessage `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(content, &f); err != nil {
		return nil, fmt.Errorf("gpt2 tokenizer: tokenizer.json: %w", err)
	}
	var errs []error
	if f.Model.Type != "BPE" {
		errs = append(errs, fmt.Errorf("model type %q is not BPE", f.Model.Type))
	}
	if p := f.PreTokenizer; p == nil || p.Type != "ByteLevel" || p.AddPrefixSpace || (p.UseRegex != nil && !*p.UseRegex) {
		errs = append(errs, errors.New("the pre-tokenizer is not GPT-2's (ByteLevel, its regex, no prefix space)"))
	}
	if n := strings.TrimSpace(string(f.Normalizer)); n != "" && n != "null" {
		errs = append(errs, errors.New("it has a normalizer; GPT-2's has none"))
	}
	var lines []string
	var asStrings []string
	var asPairs [][]string
	if json.Unmarshal(f.Model.Merges, &asStrings) == nil {
		lines = asStrings
	} else if json.Unmarshal(f.Model.Merges, &asPairs) == nil {
		for i, p := range asPairs {
			if len(p) != 2 || strings.Contains(p[0], " ") || strings.Contains(p[1], " ") {
				errs = append(errs, fmt.Errorf("merge %d %q is not two tokens without spaces", i+1, p))
				break
			}
			lines = append(lines, p[0]+" "+p[1])
		}
	} else {
		errs = append(errs, errors.New(`the merges are neither "a b" strings nor pairs`))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("gpt2 tokenizer: tokenizer.json: %w", err)
	}
	vocab := f.Model.Vocab
	if vocab == nil {
		vocab = map[string]int{}
	}
	for _, t := range f.AddedTokens {
		if _, ok := vocab[t.Content]; !ok {
			vocab[t.Content] = t.ID
		}
	}
	vocabJSON, err := json.Marshal(vocab)
	if err != nil {
		return nil, fmt.Errorf("gpt2 tokenizer: %w", err)
	}
	return ReadGPT2Tokenizer(vocabJSON, []byte(strings.Join(lines, "\n")))
}

// gpt2Bytes returns GPT-2's stand-in character of each byte (bytes_to_unicode in its encoder.py):
// printable Latin-1 characters stand for themselves, the others for 256, 257, ... in byte order.
func gpt2Bytes() (standIn [256]rune, byteOf map[rune]byte) {
	byteOf = make(map[rune]byte, 256)
	n := 0
	for b := range 256 {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE {
			standIn[b] = rune(b)
		} else {
			standIn[b] = rune(256 + n)
			n++
		}
		byteOf[standIn[b]] = byte(b)
	}
	return standIn, byteOf
}

// ReadGPT2Tokenizer builds the tokenizer from the contents of a vocabulary file (a JSON object of
// token to id) and a merges file ("#version" line optional, then "first second" per line, by
// rank). Every byte's stand-in must be in the vocabulary, and so must each merge's two parts and
// what they make; ids are below 65,536 and distinct. Tokens that no merge makes and that are not
// bytes are special tokens ("<|endoftext|>"): they decode to their text and are never produced by
// Encode.
func ReadGPT2Tokenizer(vocabJSON, mergesText []byte) (*GPT2Tokenizer, error) {
	var vocab map[string]int
	if err := json.Unmarshal(vocabJSON, &vocab); err != nil {
		return nil, fmt.Errorf("gpt2 tokenizer: the vocabulary is not a JSON object of token to id: %w", err)
	}
	if len(vocab) == 0 {
		return nil, errors.New("gpt2 tokenizer: the vocabulary is empty")
	}
	standIn, byteOf := gpt2Bytes()
	t := &GPT2Tokenizer{special: map[string]Token{}}
	owner := map[int]string{}
	for tok, id := range vocab {
		if id < 0 || id >= maxVocab {
			return nil, fmt.Errorf("gpt2 tokenizer: token %q has id %d, outside [0, %d)", tok, id, maxVocab)
		}
		if other, ok := owner[id]; ok {
			a, b := min(tok, other), max(tok, other)
			return nil, fmt.Errorf("gpt2 tokenizer: tokens %q and %q have the same id %d", a, b, id)
		}
		owner[id] = tok
		t.size = max(t.size, id+1)
	}
	m := merger{pattern: GPT2, pieces: make([][]byte, t.size), ranks: map[Pair]int32{}}
	// made holds the ids that are bytes or that merges make; the rest are special.
	made := make(map[Token]bool, len(vocab))
	for b := range 256 {
		id, ok := vocab[string(standIn[b])]
		if !ok {
			return nil, fmt.Errorf("gpt2 tokenizer: the vocabulary has no token for byte 0x%02x (%q)", b, string(standIn[b]))
		}
		m.byteID[b] = Token(id)
		made[Token(id)] = true
	}
	lines := strings.Split(string(mergesText), "\n")
	for n, line := range lines {
		line = strings.TrimSuffix(line, "\r")
		if line == "" || n == 0 && strings.HasPrefix(line, "#version") {
			continue
		}
		f := strings.Split(line, " ")
		if len(f) != 2 || f[0] == "" || f[1] == "" {
			return nil, fmt.Errorf("gpt2 tokenizer: merges line %d: %q is not two tokens separated by a space", n+1, line)
		}
		var p Pair
		for k, s := range [3]string{f[0], f[1], f[0] + f[1]} {
			id, ok := vocab[s]
			if !ok {
				return nil, fmt.Errorf("gpt2 tokenizer: merges line %d: %q is not in the vocabulary", n+1, s)
			}
			if k < 2 {
				p[k] = Token(id)
				continue
			}
			if r, ok := m.ranks[p]; ok {
				return nil, fmt.Errorf("gpt2 tokenizer: merges line %d repeats the merge %q %q of rank %d", n+1, f[0], f[1], r)
			}
			m.ranks[p] = int32(len(m.pairs))
			m.pairs = append(m.pairs, p)
			m.made = append(m.made, Token(id))
			made[Token(id)] = true
		}
	}
	for tok, id := range vocab {
		piece, ok := standInBytes(tok, byteOf)
		if !made[Token(id)] {
			t.special[tok] = Token(id)
			piece = []byte(tok)
		} else if !ok {
			return nil, fmt.Errorf("gpt2 tokenizer: token %q is made by merges but holds a character that stands for no byte", tok)
		}
		m.pieces[id] = piece
	}
	m.setOrdered()
	t.m = m
	var compact bytes.Buffer
	if err := json.Compact(&compact, vocabJSON); err != nil {
		return nil, fmt.Errorf("gpt2 tokenizer: %w", err)
	}
	t.vocab, t.merges = compact.Bytes(), slices.Clone(mergesText)
	return t, nil
}

// standInBytes decodes a token written in GPT-2's stand-ins; ok is false when a character is none.
func standInBytes(tok string, byteOf map[rune]byte) (piece []byte, ok bool) {
	piece = make([]byte, 0, len(tok))
	for _, r := range tok {
		b, ok := byteOf[r]
		if !ok || r == utf8.RuneError {
			return nil, false
		}
		piece = append(piece, b)
	}
	return piece, true
}

// Encode returns the ids of text, as GPT-2's encoder.py computes them for UTF-8 text (bytes that
// are not UTF-8 count as symbols, as in [Pattern.Chunks]).
func (t *GPT2Tokenizer) Encode(text []byte) []Token { return t.m.Encode(text) }

// Encoder returns an encoder for one goroutine, [GPT2Tokenizer.Encode] with a cache kept from call to
// call.
func (t *GPT2Tokenizer) Encoder() func(text []byte) []Token { return t.m.encoder() }

// Decode returns the bytes of ids; special tokens decode to their text, and ids that are no token
// to U+FFFD.
func (t *GPT2Tokenizer) Decode(ids []Token) []byte { return t.m.Decode(ids) }

// VocabSize is one more than the largest id (50,257 for GPT-2).
func (t *GPT2Tokenizer) VocabSize() int { return t.size }

// NumMerges is the number of merges (50,000 for GPT-2).
func (t *GPT2Tokenizer) NumMerges() int { return len(t.m.pairs) }

// Special returns the id of a special token, such as "<|endoftext|>", which separates GPT-2's
// training documents.
func (t *GPT2Tokenizer) Special(token string) (Token, bool) {
	id, ok := t.special[token]
	return id, ok
}

// Files returns the tokenizer's vocabulary (compact JSON) and merges file, to write it out as
// vocab.json and merges.txt.
func (t *GPT2Tokenizer) Files() (vocabJSON, merges []byte) {
	return slices.Clone(t.vocab), slices.Clone(t.merges)
}

// gpt2Header starts the text form.
const gpt2Header = "bitter-gpt2-tokenizer 1\n"

// MarshalText writes the line "bitter-gpt2-tokenizer 1", the vocabulary as JSON on one line, then
// the merges file as it was read.
func (t *GPT2Tokenizer) MarshalText() ([]byte, error) {
	return slices.Concat([]byte(gpt2Header), t.vocab, []byte("\n"), t.merges), nil
}

// UnmarshalText reads what MarshalText wrote.
func (t *GPT2Tokenizer) UnmarshalText(text []byte) error {
	rest, ok := bytes.CutPrefix(text, []byte(gpt2Header))
	if !ok {
		return fmt.Errorf("gpt2 tokenizer: the text does not start with %q", strings.TrimSpace(gpt2Header))
	}
	vocab, merges, _ := bytes.Cut(rest, []byte("\n"))
	nt, err := ReadGPT2Tokenizer(vocab, merges)
	if err != nil {
		return err
	}
	*t = *nt
	return nil
}
