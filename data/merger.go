package data

import (
	"container/heap"
	"runtime"
	"slices"
	"sync"
)

// merger is the encoding engine that BPE and GPT2Tokenizer share: ranked merges of adjacent ids,
// applied within the chunks a Pattern cuts text into.
type merger struct {
	pattern Pattern
	limit   int            // chunks are cut to at most this many bytes (MaxChunk), or not at all (0)
	byteID  [256]Token     // the id of each byte
	pairs   []Pair         // pairs[r]: the ids merge r joins
	made    []Token        // made[r]: the id merge r makes
	ranks   map[Pair]int32 // the rank of each pair that merges
	pieces  [][]byte       // the bytes each id decodes to (nil: none)
	// ordered: each merge joins ids that exist before it (bytes, or made by earlier merges) and makes
	// an id no earlier merge made, so a merge never forms a pair of its own rank or below. Long
	// chunks are then merged through a heap; otherwise by the plain loop.
	ordered bool
}

// setOrdered computes m.ordered from the merges.
func (m *merger) setOrdered() {
	exists := make(map[Token]bool, 256+len(m.made))
	for _, id := range m.byteID {
		exists[id] = true
	}
	m.ordered = len(exists) == 256
	for r, p := range m.pairs {
		if !m.ordered {
			return
		}
		m.ordered = exists[p[0]] && exists[p[1]] && !exists[m.made[r]]
		exists[m.made[r]] = true
	}
}

// Encode returns the ids of text. Texts of megabytes are encoded in parallel, in segments that
// start chunks.
func (m *merger) Encode(text []byte) []Token {
	segs := segments(text, runtime.GOMAXPROCS(0))
	if len(segs) <= 1 {
		return m.encode(text)
	}
	parts := make([][]Token, len(segs))
	var wg sync.WaitGroup
	for k, seg := range segs {
		wg.Go(func() { parts[k] = m.encode(seg) })
	}
	wg.Wait()
	return slices.Concat(parts...)
}

// encode is Encode in one goroutine.
func (m *merger) encode(text []byte) []Token {
	return m.encodeCached(text, map[string][]Token{}, 1<<20)
}

// encoder returns Encode in the calling goroutine, with a cache of up to 1<<18 chunks kept from call
// to call: for many short texts (a corpus's documents, or pieces of it) that share words.
func (m *merger) encoder() func(text []byte) []Token {
	cache := map[string][]Token{}
	return func(text []byte) []Token { return m.encodeCached(text, cache, 1<<18) }
}

// encodeCached encodes text, looking each chunk up in cache and adding those it lacks while it holds
// fewer than limit.
func (m *merger) encodeCached(text []byte, cache map[string][]Token, limit int) []Token {
	out := make([]Token, 0, len(text)/3)
	for c := range m.pattern.chunks(text, m.limit) {
		ids, ok := cache[string(c)]
		if !ok {
			ids = m.encodeChunk(c)
			if len(cache) < limit && len(c) <= MaxChunk {
				cache[string(c)] = ids
			}
		}
		out = append(out, ids...)
	}
	return out
}

// encodeChunk applies the merges to one chunk as GPT-2's encoder.py does: repeatedly the
// lowest-ranked pair present, each occurrence of it left to right.
func (m *merger) encodeChunk(chunk []byte) []Token {
	if len(chunk) > MaxChunk && m.ordered {
		return m.encodeLong(chunk)
	}
	ids := make([]Token, len(chunk))
	for i, c := range chunk {
		ids[i] = m.byteID[c]
	}
	for len(ids) > 1 {
		best := int32(-1)
		for i := 0; i+1 < len(ids); i++ {
			if r, ok := m.ranks[Pair{ids[i], ids[i+1]}]; ok && (best < 0 || r < best) {
				best = r
			}
		}
		if best < 0 {
			break
		}
		ids = mergePair(ids, m.pairs[best], m.made[best])
	}
	return ids
}

// encodeLong is encodeChunk in O(n log n) for an ordered merger: the candidate pairs sit in a heap
// by (rank, position), and each merge updates only its neighbours. Since no merge forms a pair of
// its own rank or below, popping in that order merges what the plain loop merges, in its order.
func (m *merger) encodeLong(chunk []byte) []Token {
	n := len(chunk)
	ids := make([]Token, n)
	next := make([]int32, n) // the next live position, -1 at the end
	prev := make([]int32, n) // the previous live position, -1 at the start
	dead := make([]bool, n)
	for i, c := range chunk {
		ids[i], next[i], prev[i] = m.byteID[c], int32(i+1), int32(i-1)
	}
	next[n-1] = -1
	// candidate is the merge of the pair at i and its successor, if they merge.
	candidate := func(i int32) (mergeAt, bool) {
		j := next[i]
		if j < 0 {
			return mergeAt{}, false
		}
		r, ok := m.ranks[Pair{ids[i], ids[j]}]
		return mergeAt{rank: r, pos: i, left: ids[i], right: ids[j]}, ok
	}
	q := mergeQueue{}
	for i := range int32(n - 1) {
		if e, ok := candidate(i); ok {
			q = append(q, e)
		}
	}
	heap.Init(&q)
	for q.Len() > 0 {
		e := heap.Pop(&q).(mergeAt)
		// An entry is stale once its left position died or either side changed: an id only ever
		// changes to a longer piece, so equal ids mean nothing changed.
		i := e.pos
		j := next[i]
		if dead[i] || j < 0 || ids[i] != e.left || ids[j] != e.right {
			continue
		}
		ids[i] = m.made[e.rank]
		dead[j] = true
		next[i] = next[j]
		if next[j] >= 0 {
			prev[next[j]] = i
		}
		// The merged id's pairs with its neighbours are new candidates.
		for _, at := range [2]int32{prev[i], i} {
			if at < 0 {
				continue
			}
			if e, ok := candidate(at); ok {
				heap.Push(&q, e)
			}
		}
	}
	out := make([]Token, 0, n)
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, ids[i])
	}
	return out
}

// mergeAt is a candidate merge: the pair (left, right) at position pos, of rank rank.
type mergeAt struct {
	rank, pos   int32
	left, right Token
}

type mergeQueue []mergeAt

func (q mergeQueue) Len() int { return len(q) }
func (q mergeQueue) Less(i, j int) bool {
	if q[i].rank != q[j].rank {
		return q[i].rank < q[j].rank
	}
	return q[i].pos < q[j].pos
}
func (q mergeQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *mergeQueue) Push(x any)   { *q = append(*q, x.(mergeAt)) }
func (q *mergeQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// Decode returns the bytes of ids; an id without bytes becomes U+FFFD.
func (m *merger) Decode(ids []Token) []byte {
	out := make([]byte, 0, 4*len(ids))
	for _, id := range ids {
		if int(id) >= len(m.pieces) || m.pieces[id] == nil {
			out = append(out, "\uFFFD"...)
			continue
		}
		out = append(out, m.pieces[id]...)
	}
	return out
}
