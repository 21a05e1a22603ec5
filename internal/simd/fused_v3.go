//go:build amd64.v3 || amd64.v4

package simd

// fusedMath: with GOAMD64=v3 the compiler fuses x*y+z in math.Tanh's rational function, which
// tanhAVX2 computes unfused; Tanh then stays Go's.
const fusedMath = true
