#!/bin/sh
# disco-bench-epoch.sh: whole training epochs, one build against another
#
#   tools/disco-bench-epoch.sh [-r REPEATS] OLD_BUILD NEW_BUILD [THREADS ...]
#
# Times one MNIST epoch (train 54k + validation 6k + test 10k, batch 100,
# the wall time of disco-run from start to exit: loading the data included)
# of the linear-threshold 1×256 and 3×256 pipelines with
# settle.method=equilibrium, and the same pipelines with the ODE (tsit5)
# on their first 2000 samples per phase (data.limit=2000; a whole ODE epoch
# takes minutes).  Each case runs REPEATS times (default 3), the two builds
# alternating so that both see the same machine; it prints the median
# seconds of each build, the ratio old/new, and whether the two builds'
# results.json agree (to the bit, or the largest relative difference of a
# loss, accuracy or weight norm; mean step counts apart).
# NEW_BUILD runs with each THREADS count given (default: 2 and 1, as
# DISCO_THREADS); OLD_BUILD as it runs by default.  Needs the datasets
# (data/install-datasets.sh) and /usr/bin/python3.
set -eu

repeats=3
if [ "${1:-}" = "-r" ]; then
  repeats=$2
  shift 2
fi
[ $# -ge 2 ] || {
  echo "usage: $0 [-r REPEATS] OLD_BUILD NEW_BUILD [THREADS ...]" >&2
  exit 2
}
old=$1
new=$2
shift 2
[ $# -gt 0 ] || set -- 2 1
threads_list="$*"
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# time_run BUILD THREADS OUT PIPELINE OVERRIDES...: prints seconds
time_run() {
  run_build=$1 run_threads=$2 run_out=$3 run_pipeline=$4
  shift 4
  start=$(date +%s.%N)
  if [ "$run_threads" = default ]; then
    "$run_build/tools/disco-run" -q --overwrite -o "$run_out" \
      "$src/pipelines/$run_pipeline.pipeline" data.epochs=1 "$@"
  else
    DISCO_THREADS=$run_threads "$run_build/tools/disco-run" -q --overwrite -o "$run_out" \
      "$src/pipelines/$run_pipeline.pipeline" data.epochs=1 "$@"
  fi
  end=$(date +%s.%N)
  echo "$start $end" | awk '{ printf "%.3f\n", $2 - $1 }'
}

compare() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
def flat(x, p=""):
    if isinstance(x, dict):
        for k, v in x.items():
            if k in ("wall_time_s", "output-dir"):
                continue
            yield from flat(v, p + "/" + k)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from flat(v, f"{p}[{i}]")
    else:
        yield p, x
a = dict(flat(json.load(open(sys.argv[1]))))
b = dict(flat(json.load(open(sys.argv[2]))))
# Losses, accuracies and weight norms are the results; step counts are how
# the solver got there (what one open-loop step is differs between builds),
# reported apart.
worst = 0.0
steps = 0.0
for k in a:
    x, y = a[k], b.get(k)
    if isinstance(x, (int, float)) and isinstance(y, (int, float)) and x != y:
        d = abs(x - y) / max(abs(x), abs(y))
        if k.endswith("/mean_steps"):
            steps = max(steps, d)
        else:
            worst = max(worst, d)
print(("identical" if worst == 0 else f"max rel diff {worst:.1e}")
      + ("" if steps == 0 else f" (steps {steps:.1e})"))
PY
}

printf '%-34s %8s %8s %8s  %s\n' case old_s new_s old/new results
for case in "mnist-1x256-linear-threshold equilibrium" "mnist-3x256-linear-threshold equilibrium" \
            "mnist-1x256-linear-threshold tsit5" "mnist-3x256-linear-threshold tsit5"; do
  pipeline=${case% *}
  method=${case#* }
  limit=""
  [ "$method" = tsit5 ] && limit="data.limit=2000"
  for threads in $threads_list; do
    : >"$work/old" && : >"$work/new"
    i=0
    while [ $i -lt "$repeats" ]; do
      # shellcheck disable=SC2086
      time_run "$old" default "$work/o" "$pipeline" settle.method=$method $limit >>"$work/old"
      # shellcheck disable=SC2086
      time_run "$new" "$threads" "$work/n" "$pipeline" settle.method=$method $limit >>"$work/new"
      i=$((i + 1))
    done
    o=$(median <"$work/old")
    n=$(median <"$work/new")
    printf '%-34s %8.2f %8.2f %8.2f  %s\n' "${pipeline#mnist-} $method, $threads thr" "$o" "$n" \
      "$(echo "$o $n" | awk '{ print $1 / $2 }')" "$(compare "$work/o/results.json" "$work/n/results.json")"
  done
done
