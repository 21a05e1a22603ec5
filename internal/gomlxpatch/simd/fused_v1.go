//go:build !(amd64.v3 || amd64.v4)

package simd

// fusedMath: see fused_v3.go.
const fusedMath = false
