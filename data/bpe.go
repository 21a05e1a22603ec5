package data

import (
	"bufio"
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// BPE is a byte-level byte-pair-encoding tokenizer (Sennrich et al. 2016, in GPT-2's byte-level
// form): ids 0-255 are the bytes, and id 256+i is the i-th merge, the concatenation of two earlier
// ids. Text is first cut into chunks by a [Pattern] (GPT-2's or GPT-4's); merges never cross a
// chunk. Like [Bytes], it is lossless on any input, UTF-8 or not. A BPE is immutable and safe for
// concurrent use. It marshals to a small text form (see [BPE.MarshalText]), so it can sit in a
// checkpoint's metadata.
type BPE struct {
	merges []Pair
	m      merger
}

// Pair is two adjacent token ids.
type Pair [2]Token

// maxVocab is the largest vocabulary a Token holds.
const maxVocab = 1 << 16

// TrainBPE learns merges on the chunks that pattern cuts text into, until the vocabulary has
// vocabSize ids (256 to 65,536) or no chunk has two tokens left to merge. Each merge takes the most
// frequent adjacent pair of ids within chunks; ties go to the smallest pair (first id, then second),
// so the result depends on nothing but text, vocabSize and pattern. Chunks are counted once per
// distinct chunk (in parallel over segments of large texts), and each merge updates the counts of
// the chunks that hold its pair, not all of them.
func TrainBPE(text []byte, vocabSize int, pattern Pattern) (*BPE, error) {
	if err := pattern.Check(); err != nil {
		return nil, err
	}
	if vocabSize < 256 || vocabSize > maxVocab {
		return nil, fmt.Errorf("bpe: vocabulary size %d must be in [256, %d]", vocabSize, maxVocab)
	}
	if len(text) == 0 {
		return nil, errors.New("bpe: no text to train on")
	}
	// Distinct chunks and how often each occurs, counted in parallel over segments of the text.
	segs := segments(text, runtime.GOMAXPROCS(0))
	maps := make([]map[string]int, len(segs))
	var wg sync.WaitGroup
	for k, seg := range segs {
		wg.Go(func() {
			m := map[string]int{}
			for c := range pattern.Chunks(seg) {
				m[string(c)]++
			}
			maps[k] = m
		})
	}
	wg.Wait()
	counts := maps[0]
	for _, m := range maps[1:] {
		for c, n := range m {
			counts[c] += n
		}
	}
	words := make([]word, 0, len(counts))
	for s, n := range counts {
		ids := make([]Token, len(s))
		for i := range len(s) {
			ids[i] = Token(s[i])
		}
		words = append(words, word{ids: ids, n: n})
	}
	t := &trainer{words: words, count: map[Pair]int{}, where: map[Pair][]int32{}}
	for w := range words {
		t.tally(int32(w), +1)
		t.list(int32(w), -1)
	}
	for p, n := range t.count {
		heap.Push(&t.queue, pairCount{p, n})
	}
	b := &BPE{}
	for len(b.merges) < vocabSize-256 {
		p, ok := t.best()
		if !ok {
			break
		}
		b.merges = append(b.merges, p)
		t.merge(p, Token(255+len(b.merges)))
	}
	b.index(pattern)
	return b, nil
}

// word is a distinct chunk: its current ids and how many times it occurs.
type word struct {
	ids []Token
	n   int
}

type trainer struct {
	words   []word
	count   map[Pair]int     // occurrences of each pair, summed over words
	where   map[Pair][]int32 // words that held the pair when it appeared in them (stale entries, repeats)
	queue   pairQueue
	changed map[Pair]bool
}

// tally adds (sign +1) or removes (sign -1) the pairs of word w from the counts.
func (t *trainer) tally(w int32, sign int) {
	ids, n := t.words[w].ids, t.words[w].n
	for i := 0; i+1 < len(ids); i++ {
		p := Pair{ids[i], ids[i+1]}
		t.count[p] += sign * n
		if t.changed != nil {
			t.changed[p] = true
		}
	}
}

// list files word w under each of its pairs that holds id, or under all of them when id < 0.
func (t *trainer) list(w int32, id int) {
	ids := t.words[w].ids
	for i := 0; i+1 < len(ids); i++ {
		if p := (Pair{ids[i], ids[i+1]}); id < 0 || int(p[0]) == id || int(p[1]) == id {
			t.where[p] = append(t.where[p], w)
		}
	}
}

// best pops the most frequent pair still present.
func (t *trainer) best() (Pair, bool) {
	for t.queue.Len() > 0 {
		e := heap.Pop(&t.queue).(pairCount)
		if e.n > 0 && t.count[e.p] == e.n {
			return e.p, true
		}
	}
	return Pair{}, false
}

// merge replaces p by id in every word that holds it. A word listed twice, or no longer holding p,
// is passed over: after its merge it holds no p (id is new, so no merge makes p again).
func (t *trainer) merge(p Pair, id Token) {
	t.changed = map[Pair]bool{}
	for _, w := range t.where[p] {
		if !hasPair(t.words[w].ids, p) {
			continue
		}
		t.tally(w, -1)
		t.words[w].ids = mergePair(t.words[w].ids, p, id)
		t.tally(w, +1)
		t.list(w, int(id))
	}
	delete(t.where, p)
	for q := range t.changed {
		if n := t.count[q]; n > 0 {
			heap.Push(&t.queue, pairCount{q, n})
		} else {
			delete(t.count, q)
		}
	}
}

func hasPair(ids []Token, p Pair) bool {
	for i := 0; i+1 < len(ids); i++ {
		if ids[i] == p[0] && ids[i+1] == p[1] {
			return true
		}
	}
	return false
}

// mergePair replaces each occurrence of p in ids, left to right, by id, in place.
func mergePair(ids []Token, p Pair, id Token) []Token {
	out := ids[:0]
	for i := 0; i < len(ids); i++ {
		if i+1 < len(ids) && ids[i] == p[0] && ids[i+1] == p[1] {
			out = append(out, id)
			i++
			continue
		}
		out = append(out, ids[i])
	}
	return out
}

type pairCount struct {
	p Pair
	n int
}

// pairQueue is a max-heap by count, the smallest pair first among equal counts.
type pairQueue []pairCount

func (q pairQueue) Len() int { return len(q) }
func (q pairQueue) Less(i, j int) bool {
	if q[i].n != q[j].n {
		return q[i].n > q[j].n
	}
	if q[i].p[0] != q[j].p[0] {
		return q[i].p[0] < q[j].p[0]
	}
	return q[i].p[1] < q[j].p[1]
}
func (q pairQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *pairQueue) Push(x any)   { *q = append(*q, x.(pairCount)) }
func (q *pairQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// NewBPE returns the tokenizer of the given pattern and merges: merges[i] becomes id 256+i, and each id in it
// must be below that; ids 0-255 are the bytes themselves. (GPT-2's own vocab.bpe writes bytes as
// printable stand-ins and ranks merges by line; it would need that mapping undone first.)
func NewBPE(pattern Pattern, merges []Pair) (*BPE, error) {
	if err := pattern.Check(); err != nil {
		return nil, err
	}
	if len(merges) > maxVocab-256 {
		return nil, fmt.Errorf("bpe: %d merges make more than %d ids", len(merges), maxVocab)
	}
	seen := make(map[Pair]int, len(merges))
	for i, p := range merges {
		if int(p[0]) >= 256+i || int(p[1]) >= 256+i {
			return nil, fmt.Errorf("bpe: merge %d (%d %d) uses an id not made before it (below %d)", i, p[0], p[1], 256+i)
		}
		if j, ok := seen[p]; ok {
			return nil, fmt.Errorf("bpe: merge %d (%d %d) repeats merge %d", i, p[0], p[1], j)
		}
		seen[p] = i
	}
	b := &BPE{merges: append([]Pair(nil), merges...)}
	b.index(pattern)
	return b, nil
}

// index builds the encoder of b.merges: ids 0-255 are the bytes, merge i makes 256+i, and chunks
// are cut to MaxChunk bytes.
func (b *BPE) index(pattern Pattern) {
	m := merger{pattern: pattern, limit: MaxChunk, pairs: b.merges, made: make([]Token, len(b.merges)),
		ranks: make(map[Pair]int32, len(b.merges)), pieces: make([][]byte, 256+len(b.merges))}
	for i := range 256 {
		m.byteID[i] = Token(i)
		m.pieces[i] = []byte{byte(i)}
	}
	for i, p := range b.merges {
		m.made[i] = Token(256 + i)
		m.ranks[p] = int32(i)
		m.pieces[256+i] = append(append([]byte(nil), m.pieces[p[0]]...), m.pieces[p[1]]...)
	}
	m.setOrdered()
	b.m = m
}

// Pattern returns the pre-tokenizer the merges were learned on.
func (b *BPE) Pattern() Pattern { return b.m.pattern }

// Merges returns a copy of the merges, in order: merge i makes id 256+i.
func (b *BPE) Merges() []Pair { return append([]Pair(nil), b.merges...) }

// VocabSize is 256 plus the number of merges.
func (b *BPE) VocabSize() int { return 256 + len(b.merges) }

// Piece returns a copy of the bytes of one id (nil when the id is outside the vocabulary).
func (b *BPE) Piece(id Token) []byte {
	if int(id) >= len(b.m.pieces) {
		return nil
	}
	return slices.Clone(b.m.pieces[id])
}

// Encode returns the ids of text: each chunk's bytes, with the merges applied in the order they
// were learned (each one left to right), which is what training did to the same chunk.
// Texts of megabytes are encoded in parallel, in segments that start chunks.
func (b *BPE) Encode(text []byte) []Token { return b.m.Encode(text) }

// Encoder returns an encoder for one goroutine, [BPE.Encode] with a cache kept from call to call.
func (b *BPE) Encoder() func(text []byte) []Token { return b.m.encoder() }

// Decode returns the bytes of ids; an id outside the vocabulary becomes U+FFFD.
func (b *BPE) Decode(ids []Token) []byte { return b.m.Decode(ids) }

// bpeHeader starts the first line of the text form; the pattern's name follows.
const bpeHeader = "bitter-bpe 1 "

// MarshalText writes the tokenizer as text: the line "bitter-bpe 1 PATTERN" (format version, pattern:
// gpt2 or cl100k), then one line per merge, the two ids in decimal.
func (b *BPE) MarshalText() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(bpeHeader + string(b.m.pattern) + "\n")
	for _, p := range b.merges {
		fmt.Fprintf(&buf, "%d %d\n", p[0], p[1])
	}
	return buf.Bytes(), nil
}

// UnmarshalText reads what MarshalText wrote, checking every line.
func (b *BPE) UnmarshalText(text []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(text))
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), bpeHeader) {
		return fmt.Errorf("bpe: the text does not start with %q", bpeHeader)
	}
	pattern := Pattern(strings.TrimPrefix(sc.Text(), bpeHeader))
	var merges []Pair
	for line := 2; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			return fmt.Errorf("bpe: line %d: %q is not two ids", line, sc.Text())
		}
		var p Pair
		for k, s := range f {
			v, err := strconv.ParseUint(s, 10, 16)
			if err != nil {
				return fmt.Errorf("bpe: line %d: %q is not an id", line, s)
			}
			p[k] = Token(v)
		}
		merges = append(merges, p)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("bpe: %w", err)
	}
	nb, err := NewBPE(pattern, merges)
	if err != nil {
		return err
	}
	*b = *nb
	return nil
}
