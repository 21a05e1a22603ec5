package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A small module in the form of XLA's GPU dumps (names with and without %, a tuple-shaped custom
// call, a Triton gemm fusion, an unfused transpose).
const dump = `HloModule jit_train_step, is_scheduled=true, entry_computation_layout={(f32[4,8]{1,0})->f32[]}

%fused_computation (param_0: f32[4,8]) -> f32[4,8] {
  %param_0 = f32[4,8]{1,0} parameter(0)
  ROOT %negate.1 = f32[4,8]{1,0} negate(%param_0)
}

ENTRY %main.42 (Arg_0.1: f32[4,8], Arg_1.2: bf16[8,16]) -> (f32[], bf16[16,8]) {
  %Arg_0.1 = f32[4,8]{1,0} parameter(0)
  %Arg_1.2 = bf16[8,16]{1,0} parameter(1)
  %loop_fusion = f32[4,8]{1,0} fusion(f32[4,8]{1,0} %Arg_0.1), kind=kLoop, calls=%fused_computation, metadata={op_name="x"}
  %custom-call.3 = (bf16[4,16]{1,0}, s8[1024]{0}) custom-call(f32[4,8]{1,0} %loop_fusion, bf16[8,16]{1,0} %Arg_1.2), custom_call_target="__cublas$lt$matmul", backend_config={"gemm_backend_config":{}}
  %get-tuple-element.4 = bf16[4,16]{1,0} get-tuple-element((bf16[4,16]{1,0}, s8[1024]{0}) %custom-call.3), index=0
  gemm_fusion.5 = bf16[4,16]{1,0} fusion(%get-tuple-element.4, %Arg_1.2), kind=kCustom, calls=%fused_computation, backend_config={"operation_queue_id":"0","fusion_backend_config":{"kind":"__triton_gemm","triton_gemm_config":{}}}
  %transpose.6 = bf16[16,8]{1,0} transpose(bf16[8,16]{1,0} %Arg_1.2), dimensions={1,0}
  %reduce.7 = f32[] reduce(%loop_fusion, %c), dimensions={0,1}, to_apply=%add
  ROOT %tuple.8 = (f32[], bf16[16,8]{1,0}) tuple(%reduce.7, %transpose.6)
}
`

func TestParseAndReport(t *testing.T) {
	m, err := parse(strings.NewReader(dump))
	require.NoError(t, err)
	require.Equal(t, "jit_train_step", m.Name)
	require.Len(t, m.Entry, 9)
	kinds := map[string]Instr{}
	for _, in := range m.Entry {
		kinds[in.Kind] = in
	}
	require.Equal(t, int64(4*8*4), kinds["fusion kLoop"].Bytes)
	require.Equal(t, int64(4*16*2+1024), kinds["custom-call __cublas$lt$matmul"].Bytes)
	require.Equal(t, "gemm_fusion.5", kinds["fusion kCustom __triton_gemm"].Name)
	require.Equal(t, int64(16*8*2), kinds["transpose"].Bytes)
	require.Equal(t, int64(4), kinds["reduce"].Bytes)
	// Operands with and without their shapes, a tuple-shaped one; traffic reads each once.
	require.Equal(t, []string{"loop_fusion", "Arg_1.2"}, kinds["custom-call __cublas$lt$matmul"].Operands)
	require.Equal(t, []string{"get-tuple-element.4", "Arg_1.2"}, kinds["fusion kCustom __triton_gemm"].Operands)
	require.Equal(t, []string{"custom-call.3"}, kinds["get-tuple-element"].Operands)
	require.Equal(t, []string{"loop_fusion", "c"}, kinds["reduce"].Operands)
	require.Equal(t, int64(4*16*2+1024)+128+256, kinds["custom-call __cublas$lt$matmul"].Traffic)
	require.Equal(t, int64(4*16*2)*2+256, kinds["fusion kCustom __triton_gemm"].Traffic)
	require.Equal(t, int64(4)+128, kinds["reduce"].Traffic, "an operand not in the entry (%c) counts nothing")

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "module_0001.small.sm_9.0_gpu_after_optimizations.txt"), []byte("HloModule x\nENTRY %e () -> f32[] {\n  ROOT %c = f32[] constant(0)\n}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "module_0002.jit_train_step.sm_9.0_gpu_after_optimizations.txt"), []byte(dump), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "module_0002.jit_train_step.before_optimizations.txt"), []byte(dump+dump), 0o644))
	var out bytes.Buffer
	require.NoError(t, report(&out, dir, 1e-9)) // 1 KB/s: the traffic in seconds
	s := out.String()
	require.Contains(t, s, "module jit_train_step: 9 entry instructions, 5 kernels")
	require.Contains(t, s, "      1       128 B       256 B  fusion kLoop")
	// Kernels: loop fusion 256 B, cuBLAS 1,536, Triton gemm 512, transpose 512, reduce 132: 2,948 B.
	require.Contains(t, s, "traffic (each kernel reads its operands once, writes its output once): 2.9 KiB, 2948.00 ms at 1e-09 TB/s")
	require.Contains(t, s, "most traffic:\n     1.5 KiB  custom-call __cublas$lt$matmul")
	require.Contains(t, s, "custom-call __cublas$lt$matmul")
	require.Contains(t, s, "unfused transposes and copies: 1, 256 B")

	require.ErrorContains(t, report(&out, t.TempDir(), 3), "holds no *after_optimizations.txt")
	_, err = parse(strings.NewReader("HloModule empty\n"))
	require.ErrorContains(t, err, "no ENTRY computation")
}
