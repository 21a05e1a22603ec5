package data

// Token is a token id. uint16 holds every byte and GPT-2's 50,257 BPE ids in half the memory of an
// int32 (nanoGPT stores its token files the same way).
type Token = uint16

// Tokenizer maps text to token ids and back.
type Tokenizer interface {
	// Encode returns the token ids of text.
	Encode(text []byte) []Token
	// Decode returns the text of ids; ids outside the vocabulary decode to U+FFFD.
	Decode(ids []Token) []byte
	// VocabSize is the number of ids, all of them below it.
	VocabSize() int
}

// Bytes is the byte-level tokenizer: each byte is its own token, vocabulary 256. It is lossless
// on any input, UTF-8 or not.
type Bytes struct{}

// Encode returns one token per byte.
func (Bytes) Encode(text []byte) []Token {
	ids := make([]Token, len(text))
	for i, b := range text {
		ids[i] = Token(b)
	}
	return ids
}

// Decode returns the bytes of ids; an id of 256 or more becomes U+FFFD.
func (Bytes) Decode(ids []Token) []byte {
	out := make([]byte, 0, len(ids))
	for _, id := range ids {
		if id > 255 {
			out = append(out, "\uFFFD"...)
			continue
		}
		out = append(out, byte(id))
	}
	return out
}

// VocabSize is 256.
func (Bytes) VocabSize() int { return 256 }
