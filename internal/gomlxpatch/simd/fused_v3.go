//go:build amd64.v3 || amd64.v4

package simd

// fusedMath: with GOAMD64=v3 the compiler fuses x*y+z in math.Tanh's and math.Erf's rational
// functions, which tanhAVX2 and erfAVX2 compute unfused; Tanh and Erf then stay Go's.
const fusedMath = true
