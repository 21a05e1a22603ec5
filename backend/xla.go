//go:build ((linux && amd64) || darwin) && cgo && !noxla

package backend

import _ "github.com/gomlx/gomlx/backends/xla" // XLA/PJRT through go-xla: GOMLX_BACKEND=xla:cuda or xla:/path/plugin.so.
