package data_test

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/data"
)

func TestBytesRoundTrip(t *testing.T) {
	text := []byte("héllo, \x00\xff wörld")
	ids := data.Bytes{}.Encode(text)
	require.Len(t, ids, len(text))
	require.Equal(t, text, data.Bytes{}.Decode(ids))
	require.Equal(t, 256, data.Bytes{}.VocabSize())
	require.Equal(t, []byte("a\uFFFDb"), data.Bytes{}.Decode([]data.Token{'a', 300, 'b'}))
}

func TestLoadCorpus(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	}
	write("b/z.go", "Z")
	write("a.go", "A")
	write("b/y.txt", "Y")
	write("b/c/x.go", "X")
	text, err := data.LoadCorpus([]string{dir}, ".go")
	require.NoError(t, err)
	require.Equal(t, "AXZ", string(text), "sorted path order: a.go, b/c/x.go, b/z.go")
	text, err = data.LoadCorpus([]string{filepath.Join(dir, "b")})
	require.NoError(t, err)
	require.Equal(t, "XYZ", string(text), "no extension filter: every file")
	text, err = data.LoadCorpus([]string{filepath.Join(dir, "b/y.txt"), filepath.Join(dir, "a.go")}, ".go")
	require.NoError(t, err)
	require.Equal(t, "AY", string(text), "files are read whatever their extension")

	_, err = data.LoadCorpus([]string{filepath.Join(dir, "missing")})
	require.ErrorContains(t, err, `corpus path "`+filepath.Join(dir, "missing")+`" does not exist`)
	_, err = data.LoadCorpus([]string{dir}, ".rs")
	require.ErrorContains(t, err, "has no files ending in .rs")
	write("empty.txt", "")
	_, err = data.LoadCorpus([]string{filepath.Join(dir, "empty.txt")})
	require.ErrorContains(t, err, "empty.txt is empty")
	_, err = data.LoadCorpus(nil)
	require.ErrorContains(t, err, "no path given")
}

func TestSplit(t *testing.T) {
	tokens := data.Bytes{}.Encode([]byte("0123456789"))
	train, val, err := data.Split(tokens, 0.2)
	require.NoError(t, err)
	require.Equal(t, "01234567", string(data.Bytes{}.Decode(train)))
	require.Equal(t, "89", string(data.Bytes{}.Decode(val)))
	_, _, err = data.Split(tokens, 1)
	require.ErrorContains(t, err, "validation fraction 1 must be in [0, 1)")
}

func TestWindowsSeededAndResumable(t *testing.T) {
	tokens := make([]data.Token, 1000)
	for i := range tokens {
		tokens[i] = data.Token(i % 251)
	}
	a, err := data.NewWindows(tokens, 4, 16, 7)
	require.NoError(t, err)
	b, err := data.NewWindows(tokens, 4, 16, 7)
	require.NoError(t, err)
	c, err := data.NewWindows(tokens, 4, 16, 8)
	require.NoError(t, err)
	xa, ya := a.Next()
	xb, _ := b.Next()
	xc, _ := c.Next()
	require.Equal(t, xa, xb, "same seed, same batches")
	require.NotEqual(t, xa, xc, "another seed, other batches")
	for i := range xa {
		require.Len(t, xa[i], 16)
		require.Equal(t, xa[i][1:], ya[i][:15], "targets are the inputs shifted by one")
		require.Equal(t, int32((int(xa[i][15])+1)%251), ya[i][15])
	}
	state, err := a.State()
	require.NoError(t, err)
	want, _ := a.Next()
	require.NoError(t, c.SetState(state))
	got, _ := c.Next()
	require.Equal(t, want, got, "restored state continues the stream")

	_, err = data.NewWindows(tokens[:16], 4, 16, 1)
	require.ErrorContains(t, err, "16 tokens are fewer than one window of 16+1")
	_, err = data.NewWindows(tokens, 0, 16, 1)
	require.ErrorContains(t, err, "batch (0) and sequence length (16) must be positive")
	_, err = data.NewWindows(tokens, 1<<40, 16, 1) // would allocate at the first batch, not fail here
	require.ErrorContains(t, err, "batch (1099511627776) x sequence length (16) is more than 2^31-1 tokens per step")
	spec, in, labels, err := a.Yield()
	require.NoError(t, err)
	require.Nil(t, spec)
	require.Equal(t, []int{4, 16}, in[0].Shape().Dimensions)
	require.Equal(t, []int{4, 16}, labels[0].Shape().Dimensions)
}

func TestEvalWindowsCoverEveryToken(t *testing.T) {
	tokens := data.Bytes{}.Encode([]byte("abcdefghij")) // 10 tokens, 9 predictions
	in, tg := data.EvalWindows(tokens, 4)
	require.Equal(t, [][]int32{{'a', 'b', 'c', 'd'}, {'e', 'f', 'g', 'h'}, {'i'}}, in)
	require.Equal(t, [][]int32{{'b', 'c', 'd', 'e'}, {'f', 'g', 'h', 'i'}, {'j'}}, tg)
	in, _ = data.EvalWindows(tokens[:1], 4)
	require.Empty(t, in)
	// One window when seq is the length or more, whatever its size; none for seq below 1 (it looped).
	for _, seq := range []int{9, 1 << 40, math.MaxInt} {
		in, tg = data.EvalWindows(tokens, seq)
		require.Equal(t, [][]int32{{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'}}, in, "seq %d", seq)
		require.Len(t, tg, 1)
	}
	for _, seq := range []int{0, -1} {
		in, _ = data.EvalWindows(tokens, seq)
		require.Empty(t, in, "seq %d", seq)
	}
}

// TestDocuments: LoadDocuments keeps LoadCorpus's files apart; SplitDocuments cuts where Split cuts
// the concatenated text; EncodeDocuments puts the separator between documents only.
func TestDocuments(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{"a.txt": "first doc\n", "b.txt": "", "c.txt": "the second one\n", "d.md": "skip"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	docs, err := data.LoadDocuments([]string{dir}, ".txt")
	require.NoError(t, err)
	require.Equal(t, [][]byte{[]byte("first doc\n"), []byte("the second one\n")}, docs, "sorted, the empty file dropped")
	text, err := data.LoadCorpus([]string{dir}, ".txt")
	require.NoError(t, err)
	require.Equal(t, "first doc\nthe second one\n", string(text))

	for _, frac := range []float64{0, 0.1, 0.4, 0.6, 0.99} {
		train, val, err := data.SplitDocuments(docs, frac)
		require.NoError(t, err)
		wantTrain, wantVal, err := data.Split(text, frac)
		require.NoError(t, err)
		require.Equal(t, string(wantTrain), string(bytes.Join(train, nil)), "frac %g", frac)
		require.Equal(t, string(wantVal), string(bytes.Join(val, nil)), "frac %g", frac)
		require.Contains(t, []int{len(docs), len(docs) + 1}, len(train)+len(val), "one document cut in two at most")
	}
	_, _, err = data.SplitDocuments(docs, 1)
	require.ErrorContains(t, err, "validation fraction 1 must be in [0, 1)")

	ids := data.EncodeDocuments(data.Bytes{}, docs, []data.Token{999})
	require.Equal(t, len(text)+1, len(ids))
	require.Equal(t, data.Token(999), ids[len("first doc\n")])
	require.Equal(t, data.Bytes{}.Encode(text), data.EncodeDocuments(data.Bytes{}, docs, nil))
	// Many documents, encoded in parallel: the order of the sequential join.
	var many [][]byte
	var want []data.Token
	for i := range 100 {
		d := bytes.Repeat([]byte{byte('a' + i%26)}, 1+i%7)
		many = append(many, d)
		if i > 0 {
			want = append(want, 300, 301)
		}
		want = append(want, data.Bytes{}.Encode(d)...)
	}
	require.Equal(t, want, data.EncodeDocuments(data.Bytes{}, many, []data.Token{300, 301}))
	require.Empty(t, data.EncodeDocuments(data.Bytes{}, nil, []data.Token{1}))
}

// TestCorpusFolderLinksAndEmptyFolders: a link to a file is read as the file; links to folders and
// to nothing are not followed, and a folder with nothing else says so, as does a folder with no files
// at all (no extension filter).
func TestCorpusFolderLinksAndEmptyFolders(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	dir := t.TempDir()
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "real.go"), []byte("R"), 0o644))
	linked := filepath.Join(dir, "linked")
	require.NoError(t, os.Mkdir(linked, 0o755))
	require.NoError(t, os.Symlink(filepath.Join(outside, "real.go"), filepath.Join(linked, "file.go")))
	text, err := data.LoadCorpus([]string{linked}, ".go")
	require.NoError(t, err)
	require.Equal(t, "R", string(text), "a link to a file is the file")

	onlyLinks := filepath.Join(dir, "only-links")
	require.NoError(t, os.Mkdir(onlyLinks, 0o755))
	require.NoError(t, os.Symlink(outside, filepath.Join(onlyLinks, "folder")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "gone.go"), filepath.Join(onlyLinks, "dangling.go")))
	_, err = data.LoadCorpus([]string{onlyLinks})
	require.EqualError(t, err, `corpus folder "`+onlyLinks+`" has no files (and 2 symbolic links to folders or to nothing, which are not followed)`)

	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	_, err = data.LoadCorpus([]string{empty})
	require.EqualError(t, err, `corpus folder "`+empty+`" has no files`)
}

// TestCorpusRefusesDevices: a device (which /dev/zero is: endless) is refused before any reading.
func TestCorpusRefusesDevices(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero here")
	}
	_, err := data.LoadCorpus([]string{"/dev/zero"})
	require.EqualError(t, err, `corpus path "/dev/zero" is a device, not a file or a folder: its reading might never end`)
}
