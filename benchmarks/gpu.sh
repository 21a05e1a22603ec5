#!/usr/bin/env bash
# GPU benchmark run for a machine without Go (the lent H100/H200): build here, run there.
#
#   benchmarks/gpu.sh build        # here, with Go: .device/{compare,nexttoken,gpusmoke?} for linux/amd64
#   benchmarks/gpu.sh run [OUT]    # there: find the CUDA PJRT plugin, run the grid and PyTorch, write OUT
#
# "run" uses GOMLX_BACKEND when set; otherwise it finds the xla_cuda_plugin.so that a JAX install
# ships (located with python3) and sets GOMLX_BACKEND=xla:<path> and GOMLX_NO_AUTO_INSTALL=1. It
# writes OUT/results/<label>.json, the charts and OUT/RESULTS.md (copy them into benchmarks/ here),
# and OUT/log.txt. Knobs (environment): LABEL (default: the GPU's name), PEAK_TFLOPS (790),
# STEPS (5), TOKENS (16384), LENGTHS (64,128,256,512,1024).
set -euo pipefail
cd "$(dirname "$0")/.."

build() {
	mkdir -p .device
	grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
	GOOS=linux GOARCH=amd64 go build -o .device/compare ./benchmarks/cmd/compare
	GOOS=linux GOARCH=amd64 go build -o .device/nexttoken ./examples/nexttoken
	echo "built .device/compare and .device/nexttoken; carry .device and call: benchmarks/gpu.sh run \$OUT"
}

find_plugin() {
	if [ -n "${GOMLX_BACKEND:-}" ]; then return; fi
	local dir so
	dir="$(python3 -c 'import jax_plugins.xla_cuda13 as p; print(p.__path__[0])' 2>/dev/null ||
		python3 -c 'import jax_plugins.xla_cuda12 as p; print(p.__path__[0])' 2>/dev/null || true)"
	so=""
	[ -n "$dir" ] && so="$(find "$dir" -name 'xla_cuda_plugin.so' | head -1)"
	[ -z "$so" ] && so="$(find / -name 'xla_cuda_plugin.so' 2>/dev/null | head -1)"
	if [ -z "$so" ]; then
		echo "gpu.sh: no xla_cuda_plugin.so found; set GOMLX_BACKEND=xla:/path/to/xla_cuda_plugin.so" >&2
		exit 1
	fi
	export GOMLX_BACKEND="xla:$so" GOMLX_NO_AUTO_INSTALL=1
	# The plugin's CUDA libraries come from the nvidia-* pip packages beside it.
	local site libs
	site="$(python3 -c 'import site; print(site.getsitepackages()[0])' 2>/dev/null || true)"
	if [ -n "$site" ] && [ -d "$site/nvidia" ]; then
		libs="$(find "$site/nvidia" -maxdepth 2 -name lib -type d | tr '\n' ':')"
		export LD_LIBRARY_PATH="${libs}${LD_LIBRARY_PATH:-}"
	fi
}

run() {
	local out="${1:-${OUT:-gpu-out}}"
	mkdir -p "$out"
	find_plugin
	local label="${LABEL:-$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr -c 'A-Za-z0-9\n' '-' | sed 's/-*$//')}"
	label="${label:-gpu}"
	{
		echo "GOMLX_BACKEND=$GOMLX_BACKEND"
		nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || true
		python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)' 2>/dev/null || true
	} | tee "$out/log.txt"
	# Our grid and the PyTorch peers (eager, then torch.compile) in the same run.
	.device/compare -dir "$out" -label "$label" -peak-tflops "${PEAK_TFLOPS:-790}" -steps "${STEPS:-5}" \
		-tokens "${TOKENS:-16384}" -lengths "${LENGTHS:-64,128,256,512,1024}" \
		-reference benchmarks/reference/reference.py -reference-args "--device cuda" 2>&1 | tee -a "$out/log.txt"
}

case "${1:-}" in
build) build ;;
run) shift; run "$@" ;;
*) echo "usage: benchmarks/gpu.sh build | run [OUT]" >&2; exit 2 ;;
esac
