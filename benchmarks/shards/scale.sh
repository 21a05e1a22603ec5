#!/usr/bin/env bash
# Training from token shards at scale, on this machine: a corpus of COPIES copies of GOROOT/src's .go
# files (90 MB each; 23 copies, 2.1 GB of text, make 4.2 GB of uint16 byte tokens), tokenized by
# examples/prepare, then the main job trained from the shards and from the same text in memory, and
# from the shards of one copy: peak resident memory (GNU time's maximum RSS) and tokens/s of each.
# The three trainings run RUNS times, in turn (the machine is shared: compare within a round). Nothing
# is committed but the log; the corpus and shards are made under WORK and removed after.
#
#   bash benchmarks/shards/scale.sh [LOG]      # COPIES=23 STEPS=200 RUNS=2 WORK=/tmp/bitter-scale
set -euo pipefail
cd "$(dirname "$0")/../.."
COPIES=${COPIES:-23} STEPS=${STEPS:-200} RUNS=${RUNS:-2} WORK=${WORK:-/tmp/bitter-scale}
LOG=${1:-/dev/stdout}
mkdir -p "$WORK/bin" "$WORK/text" "$WORK/one"
go build -o "$WORK/bin/" ./examples/prepare ./examples/nexttoken ./benchmarks/cmd/tokrate
"$WORK/bin/tokrate" -write-text "$WORK/one/go.txt" -bytes 1000000000 >/dev/null # all of GOROOT/src's .go files
for i in $(seq -w 1 "$COPIES"); do cp "$WORK/one/go.txt" "$WORK/text/go$i.txt"; done

measure() { # NAME COMMAND...: runs it under GNU time, logs its last lines and its peak RSS
  local name=$1; shift
  /usr/bin/time -f "%M %e" -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err"
  read -r rss secs <"$WORK/time"
  { echo "## $name"; echo "\$ ${*//$WORK/\$WORK}"; grep -E '^(read|wrote [^ ]*: [0-9]|corpus:|final:)' "$WORK/out" | sed "s|$WORK|\$WORK|g"
    echo "peak RSS: $((rss / 1024)) MB; wall: ${secs} s"; echo; } >>"$LOG"
}
{ echo "# Token shards at scale: $(date -u +%F), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1e6}' /proc/meminfo), $(go version | cut -d' ' -f3), commit $(git rev-parse --short HEAD)"; echo; } >>"$LOG"
TRAIN=(-steps "$STEPS" -eval-every "$STEPS" -sample 0 -quiet)
measure "prepare: $COPIES copies, bytes" "$WORK/bin/prepare" -data "$WORK/text" -out "$WORK/shards" -quiet
measure "prepare: 1 copy, bytes" "$WORK/bin/prepare" -data "$WORK/one" -out "$WORK/shards1" -quiet
for run in $(seq 1 "$RUNS"); do
  measure "round $run: train from the shards of $COPIES copies" "$WORK/bin/nexttoken" -data "$WORK/shards" -out "$WORK/run-shards" "${TRAIN[@]}"
  measure "round $run: train from the shards of 1 copy" "$WORK/bin/nexttoken" -data "$WORK/shards1" -out "$WORK/run-shards1" "${TRAIN[@]}"
  measure "round $run: train from the text of $COPIES copies, in memory" "$WORK/bin/nexttoken" -data "$WORK/text" -ext .txt -out "$WORK/run-text" "${TRAIN[@]}"
done
du -sh "$WORK/shards" | sed "s|$WORK|\$WORK|; s/^/shards on disk: /" >>"$LOG"
rm -rf "$WORK"
