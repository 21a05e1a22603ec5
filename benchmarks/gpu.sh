#!/usr/bin/env bash
# GPU benchmark run for a machine without Go (the lent H100/H200): build here, run there.
#
#   benchmarks/gpu.sh build        # here, with Go: .device/{compare,nexttoken,gpusmoke?} for linux/amd64
#   benchmarks/gpu.sh run [OUT]    # there: find the CUDA PJRT plugin, run the grid and PyTorch, write OUT
#
# "run" uses GOMLX_BACKEND when set; otherwise it finds the xla_cuda_plugin.so that a JAX install
# ships (located with python3) and sets GOMLX_BACKEND=xla:<path> and GOMLX_NO_AUTO_INSTALL=1. It runs
# (1) GPT-2 small at T=1024 in bf16 mixed precision, ours and PyTorch eager and torch.compile, (2) a
# short end-to-end GPT2Small training on tiny Shakespeare (checkpoint, sample), (3) the 1M-parameter
# Transformer/LSTM/GRU grid with PyTorch. It writes OUT/log.txt and OUT/results.tgz (results/*.json,
# charts, RESULTS.md, the e2e loss.csv/png): unpack it into benchmarks/ here and run
# `go run ./benchmarks/cmd/compare -write-only`. Knobs (environment): LABEL (default: the GPU's name),
# PEAK_TFLOPS (790), STEPS (5), TOKENS (16384), GPT2_TOKENS (16384), LENGTHS (64,...,1024),
# E2E_STEPS (60), E2E_BATCH (8).
set -euo pipefail
cd "$(dirname "$0")/.."

build() {
	mkdir -p .device
	grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
	GOOS=linux GOARCH=amd64 go build -o .device/compare ./benchmarks/cmd/compare
	GOOS=linux GOARCH=amd64 go build -o .device/nexttoken ./examples/nexttoken
	if [ -f ../shared/data/tinyshakespeare.txt ]; then cp ../shared/data/tinyshakespeare.txt .device/; fi
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
	local out="${1:-${OUT:-gpu-out}}" work
	work="$(mktemp -d)"
	mkdir -p "$out"
	find_plugin
	local label="${LABEL:-$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr -c 'A-Za-z0-9\n' '-' | sed 's/-*$//')}"
	label="${label:-gpu}"
	local peak="${PEAK_TFLOPS:-790}" log="$out/log.txt"
	{
		echo "GOMLX_BACKEND=$GOMLX_BACKEND"
		nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || true
		python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>/dev/null || true
	} | tee "$log"
	local gpt2=(-dim 768 -layers 12 -heads 12 -ffn 3072 -vocab 50257)
	# 1. GPT-2 small at T=1024, bf16 mixed precision: ours and PyTorch eager (same run), then torch.compile.
	.device/compare -dir "$work" -label "$label-gpt2small-bf16" -models transformer -lengths 1024 -tokens "${GPT2_TOKENS:-16384}" \
		"${gpt2[@]}" -bf16 -steps "${STEPS:-5}" -generate=false -peak-tflops "$peak" \
		-reference benchmarks/reference/reference.py -reference-args "--device cuda" 2>&1 | tee -a "$log" || true
	python3 benchmarks/reference/reference.py --device cuda --dtype bfloat16 --compile --models transformer --lengths 1024 \
		--tokens "${GPT2_TOKENS:-16384}" --steps "${STEPS:-5}" --dim 768 --layers 12 --heads 12 --ffn 3072 --vocab 50257 \
		> "$work/torch-compile-gpt2small.jsonl" 2>> "$log" || echo "torch.compile run failed" | tee -a "$log"
	# 2. End to end: GPT2Small trains on real text, checkpoints and samples.
	if [ -f .device/tinyshakespeare.txt ]; then
		.device/nexttoken -preset gpt2-small -seq 1024 -batch "${E2E_BATCH:-8}" -steps "${E2E_STEPS:-60}" -precision bfloat16 \
			-lr 6e-4 -warmup 10 -data .device/tinyshakespeare.txt -eval-every 30 -eval-tokens 65536 -sample 300 \
			-prompt "ROMEO:" -out "$work/e2e" -quiet 2>&1 | tee -a "$log" || true
		rm -f "$work/e2e/checkpoint.bin" # 1.5 GB with AdamW state: too large to bring back; its writing is in the log.
	fi
	# 3. The 1M-parameter grid: transformer, LSTM, GRU across T, float32, with PyTorch eager.
	.device/compare -dir "$work" -label "$label" -peak-tflops "$peak" -steps "${STEPS:-5}" -tokens "${TOKENS:-16384}" \
		-lengths "${LENGTHS:-64,128,256,512,1024}" -reference benchmarks/reference/reference.py \
		-reference-args "--device cuda" 2>&1 | tee -a "$log" || true
	tar -czf "$out/results.tgz" -C "$work" .
	echo "wrote $out/results.tgz: unpack into benchmarks/ (results/*.json, RESULTS.md is regenerated by compare -write-only)" | tee -a "$log"
}

case "${1:-}" in
build) build ;;
run) shift; run "$@" ;;
*) echo "usage: benchmarks/gpu.sh build | run [OUT]" >&2; exit 2 ;;
esac
