package checkpoint

import (
	"bytes"

	"github.com/gomlx/gomlx/pkg/ml/context"
)

// LoadBytes is Load of a checkpoint held in memory, for the fuzz target: no file per input.
func LoadBytes(content []byte, ctx *context.Context, meta any) error {
	return load(bytes.NewReader(content), int64(len(content)), "(fuzz input)", ctx, meta)
}
