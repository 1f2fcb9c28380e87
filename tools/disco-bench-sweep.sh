#!/usr/bin/env bash
# disco-bench-sweep.sh: how a sweep scales, measured, and what the whole
# Table 1 costs, on paper from measured run times.
#
#   tools/disco-bench-sweep.sh [BUILD_DIR] [RUNS_CSV ...]
#
# 1. One fixed small sweep (pipelines/digits.sweep: 2 pipelines × 2 learning
#    rates × 3 seeds, here 8 epochs each, fixed-point solver) with -j 1, -j 2 and mpirun -n 2, one after
#    the other in this one run: wall times and speed-ups against -j 1.
# 2. Given the runs.csv of real sweeps (disco-sweep writes one beside
#    report.md), the Table 1 sweep (12 pipelines × 10 seeds) on 1, 10 and
#    120 machines like this one (as many runs at once as it has cores),
#    handing out the longest runs first, as disco-sweep does: per-run times
#    are the fastest finished run of each pipeline (any grid point); a pipeline with none
#    is timed here for one epoch and counted as 50 of them (marked "1 epoch
#    × 50").
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
[ $# -gt 0 ] && shift
sweep=$build/tools/disco-sweep
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_orte_tmpdir_base=$work
cores=$(nproc)


calc() { awk "BEGIN { print $* }"; }

timed() {  # OUTPUT_DIR command...: prints seconds
  local out=$1
  shift
  local start end
  start=$(date +%s.%N)
  "$@" -q -o "$out" "$src/pipelines/digits.sweep" data.epochs=8 >/dev/null 2>&1
  end=$(date +%s.%N)
  calc "$end - $start"
}

echo "machine: $cores cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "fixed sweep: 12 digits runs (2 pipelines × 2 learning rates × 3 seeds, 8 epochs)"
# A first, untimed, sweep warms the page cache and the dynamic loader.
"$sweep" -q -j 1 -o "$work/warm" "$src/pipelines/digits.sweep" data.epochs=8 >/dev/null 2>&1
t1=$(timed "$work/j1" "$sweep" -j 1)
t2=$(timed "$work/j2" "$sweep" -j 2)
printf '  %-16s %7.2f s   1.00×\n' "-j 1" "$t1"
printf '  %-16s %7.2f s   %.2f×\n' "-j 2" "$t2" "$(calc "$t1 / $t2")"
if command -v mpirun >/dev/null && ldd "$sweep" | grep -q libmpi; then
  tm=$(timed "$work/mpi" mpirun -n 2 --oversubscribe "$sweep")
  printf '  %-16s %7.2f s   %.2f×\n' "mpirun -n 2" "$tm" "$(calc "$t1 / $tm")"
else
  echo "  mpirun -n 2      (disco-sweep built without MPI, or no mpirun)"
fi
per_run=$(calc "$t1 / 12")
printf '  one run: %.2f s on average (-j 1)\n' "$per_run"

[ $# -eq 0 ] && exit 0

# --- Table 1 on paper ------------------------------------------------------------
echo
echo "Table 1 (12 pipelines × 10 seeds, 50 epochs, fixed-point solver), per-run times:"
# The fastest of each pipeline's finished 50-epoch runs: a run that shared its
# core with other work (a build, a test) was slower, never faster.
awk -F, 'FNR > 1 && $4 == "finished" && $5 == 50 {
           if (!($1 in best) || $10 < best[$1]) best[$1] = $10; n[$1]++ }
         END { for (p in best) printf "%s %s %d\n", p, best[p], n[p] }' "$@" >"$work/measured"
: >"$work/times"
for p in mnist-1x256 fmnist-1x256 mnist-3x256 fmnist-3x256; do
  for rule in backprop exact-inverse linear-threshold; do
    name=$p-$rule
    line=$(grep "^$name " "$work/measured" || true)
    if [ -n "$line" ]; then
      seconds=$(echo "$line" | cut -d' ' -f2)
      how="fastest of $(echo "$line" | cut -d' ' -f3) runs"
    else
      start=$(date +%s.%N)
      DISCO_BLAS_THREADS=1 "$build/tools/disco-run" -q -o "$work/epoch-$name" \
        "$src/pipelines/$name.pipeline" settle.method=equilibrium data.epochs=1 >/dev/null 2>&1
      end=$(date +%s.%N)
      seconds=$(calc "($end - $start) * 50")
      how="1 epoch × 50"
    fi
    printf '  %-32s %8.0f s  (%s)\n' "$name" "$seconds" "$how"
    echo "$seconds" >>"$work/times"
  done
done
# Longest first onto the slot that frees first (as disco-sweep hands out runs).
for machines in 1 10 120; do
  slots=$((machines * cores))
  span=$(for s in $(cat "$work/times"); do for i in $(seq 1 10); do echo "$s"; done; done |
    sort -gr | awk -v slots="$slots" '
      { best = 1; for (k = 2; k <= slots && k <= NR; k++) if (t[k] < t[best]) best = k
        if (NR <= slots) best = NR
        t[best] += $1 }
      END { m = 0; for (k in t) if (t[k] > m) m = t[k]; print m }')
  total=$(awk '{ s += $1 * 10 } END { print s }' "$work/times")
  printf '  on %3d machine(s) of %d cores: %6.1f h (%.0f core-hours in all)\n' \
    "$machines" "$cores" "$(calc "$span / 3600")" "$(calc "$total / 3600")"
done
