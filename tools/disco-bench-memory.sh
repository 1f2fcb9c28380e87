#!/bin/sh
# disco-bench-memory.sh: the resident memory of one training run, per epoch
#
#   tools/disco-bench-memory.sh [EPOCHS [PIPELINE [OVERRIDE ...]]]
#
# Runs build/tools/disco-run on PIPELINE (default: MNIST 3×256,
# linear-threshold, settle.method=equilibrium) for EPOCHS epochs (default 5)
# and prints, for each epoch, the largest VmRSS seen while it ran (sampled
# from /proc every 0.2 s; the epoch is the one disco-run's progress line
# names) and the peak RSS of the whole run (getrusage's ru_maxrss, as
# /usr/bin/time reports it).  An RSS that keeps rising from epoch to epoch
# is a leak.  DISCO_RUN overrides the program (e.g. another build's).
set -eu

epochs=${1:-5}
pipeline=${2:-pipelines/mnist-3x256-linear-threshold.pipeline}
[ $# -gt 2 ] && shift 2 || set --
run=${DISCO_RUN:-build/tools/disco-run}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

/usr/bin/time -f '%M' -o "$work/peak" "$run" -o "$work/out" "$pipeline" settle.method=equilibrium \
  "data.epochs=$epochs" "$@" >"$work/log" 2>&1 &
timer=$!
sleep 0.2
child=$(cat "/proc/$timer/task/$timer/children" 2>/dev/null | tr -d ' ' || true)

: >"$work/samples"
while kill -0 "$timer" 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$child/status" 2>/dev/null || true)
  epoch=$(tr '\r' '\n' <"$work/log" | sed -n 's/^epoch \([0-9]*\)\/.*/\1/p' | tail -n 1)
  [ -n "$rss" ] && [ -n "$epoch" ] && echo "$epoch $rss" >>"$work/samples"
  sleep 0.2
done
wait "$timer" || { cat "$work/log" >&2; exit 1; }

echo "$pipeline, $epochs epochs ($run)"
awk '{ if ($2 > max[$1]) max[$1] = $2; if ($1 > n) n = $1 }
     END { for (e = 1; e <= n; e++) printf "epoch %d: max VmRSS %.1f MiB\n", e, max[e] / 1024 }' \
  "$work/samples"
awk '{ printf "peak RSS (ru_maxrss): %.1f MiB\n", $1 / 1024 }' "$work/peak"
