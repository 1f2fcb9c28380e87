#!/usr/bin/env bash
# End-to-end tests of disco-sweep: a 2 pipelines × 2 grid points × 3 seeds
# digits sweep against solo disco-runs, -j 1, -j 2 and mpirun -n 2 against
# each other, a sweep stopped by SIGTERM and resumed against an uninterrupted
# one, a failing run among good ones, and bad sweep files.
#   usage: test-sweep.sh BUILD_DIR SOURCE_DIR mpi|no-mpi
set -uo pipefail
build=$1
src=$2
mpi=$3
. "$src/tests/common/tap.sh"
. "$src/tests/common/results.sh"
sweep=$build/tools/disco-sweep
run=$build/tools/disco-run
export DISCO_BLAS_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Open MPI's shared-memory transport wants a writable session folder.
export OMPI_MCA_orte_tmpdir_base=$work TMPDIR=$work

# Two pipelines × two learning rates × three seeds; every case gives -o.
digits_sweep=$src/pipelines/digits.sweep

# What must agree between two sweeps: every number but the wall times.
strip_md() { sed -E 's/\| [0-9.]+( ± [0-9.]+)? \|$/| wall |/' "$1/report.md"; }
strip_csv() { cut -d, -f1-17 "$1/report.csv"; }
strip_runs() { cut -d, -f1-9 "$1/runs.csv"; }
same_report() {  # DIR_A DIR_B
  [ -s "$1/report.md" ] && [ -s "$2/report.md" ] &&
    diff <(strip_md "$1") <(strip_md "$2") >&2 &&
    diff <(strip_csv "$1") <(strip_csv "$2") >&2 &&
    diff <(strip_runs "$1") <(strip_runs "$2") >&2
}

# --- a sweep on a local pool of two ---------------------------------------------
"$sweep" -q -j 2 -o "$work/j2" "$digits_sweep" 2>"$work/err-j2"
check "-j 2 sweep exits 0" "[ $? -eq 0 ]"
check "12 run folders, every one finished" \
  "[ \$(grep -l '^status=finished' \$(find '$work/j2' -name sweep-run.ini) | wc -l) -eq 12 ]"
check "folders are <pipeline>/<grid point>/seed-<n>" \
  "[ -f '$work/j2/digits-1x64-exact-inverse/adam.learning-rate=0.003/seed-2/results.json' ]"
check "the report has four configurations" "[ \$(wc -l < '$work/j2/report.csv') -eq 5 ]"
check "the report's Table 1 has both rules and both learning rates" \
  "grep -q '| exact-inverse, adam.learning-rate=0.001 | exact-inverse, adam.learning-rate=0.003 | linear-threshold, adam.learning-rate=0.001 | linear-threshold, adam.learning-rate=0.003 |' '$work/j2/report.md'"
check "every cell has three seeds" "[ \$(grep -c '^| digits 1×64 |.*(3) |.*(3) |.*(3) |.*(3) |\$' '$work/j2/report.md') -eq 3 ]"
check "curves.png is a PNG" "head -c 8 '$work/j2/curves.png' | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a'"

# Each run equals the same disco-run alone.
identical=0
for d in $(find "$work/j2" -name sweep-run.ini | sort); do
  dir=$(dirname "$d")
  file=$(sed -n 's/^pipeline-file=//p' "$d")
  mapfile -t overrides < <(sed -n 's/^overrides=//p' "$d" | tr ';' '\n' | sed '/^$/d')
  "$run" -q -o "$work/solo" "$file" "${overrides[@]}" 2>/dev/null &&
    cmp -s <(strip_results "$dir/results.json") <(strip_results "$work/solo/results.json") &&
    identical=$((identical + 1))
  rm -rf "$work/solo"
done
check "all 12 runs give results.json byte for byte as disco-run alone (wall time aside)" "[ $identical -eq 12 ]"

"$sweep" -q -j 1 -o "$work/j1" "$digits_sweep"
check "-j 1 sweep exits 0" "[ $? -eq 0 ]"
check "-j 1 and -j 2 give the same report" "same_report '$work/j1' '$work/j2'"

cp "$work/j1/report.md" "$work/report-before.md"
rm "$work/j1/report.md" "$work/j1/report.csv" "$work/j1/runs.csv"
"$sweep" -q --report "$work/j1"
check "--report writes the same report again" \
  "[ $? -eq 0 ] && cmp -s '$work/j1/report.md' '$work/report-before.md'"

"$sweep" -j 2 -o "$work/j1" "$digits_sweep" 2>"$work/err-again"
check "running a finished sweep again runs nothing and exits 0" \
  "[ $? -eq 0 ] && grep -q '12 runs (12 finished before)' '$work/err-again' && same_report '$work/j1' '$work/j2'"

# --- across MPI ranks --------------------------------------------------------------
if [ "$mpi" = mpi ]; then
  timeout 300 mpirun -n 2 --oversubscribe "$sweep" -q -o "$work/mpi" "$digits_sweep" \
    >"$work/out-mpi" 2>&1
  check "mpirun -n 2 sweep exits 0" "[ $? -eq 0 ] || { cat '$work/out-mpi' >&2; false; }"
  check "mpirun -n 2 gives the same report as -j 2" "same_report '$work/mpi' '$work/j2'"
  check "both ranks ran runs" \
    "grep -qx 'rank=0' -r '$work/mpi' --include=sweep-run.ini && grep -qx 'rank=1' -r '$work/mpi' --include=sweep-run.ini"
else
  ok "# SKIP mpirun -n 2 (disco-sweep built without MPI: -Dmpi=disabled)"
fi

# --- stopped and resumed -----------------------------------------------------------
# Longer runs, so that SIGTERM lands while some are running.
"$sweep" -q -j 2 -o "$work/whole" "$digits_sweep" --seeds 0-1 data.epochs=6
check "uninterrupted 6-epoch sweep exits 0" "[ $? -eq 0 ]"
"$sweep" -q -j 2 -o "$work/stopped" "$digits_sweep" --seeds 0-1 data.epochs=6 &
pid=$!
for _ in $(seq 1 600); do   # until the first epoch's checkpoint
  [ -n "$(find "$work/stopped" -path '*checkpoint/state.ini' 2>/dev/null | head -1)" ] && break
  sleep 0.02
done
kill -TERM $pid
wait $pid
status=$?
check "SIGTERM stops the sweep with status 130" "[ $status -eq 130 ]"
check "stopped runs are marked stopped, the rest pending or finished" \
  "grep -qx 'status=stopped' -r '$work/stopped' --include=sweep-run.ini && ! grep -qx 'status=running' -r '$work/stopped' --include=sweep-run.ini"
check "the report after the stop counts what is missing" "grep -q '^Missing: .' '$work/stopped/report.md' && ! grep -q '^Missing: none' '$work/stopped/report.md'"
"$sweep" -q -j 2 -o "$work/stopped" "$digits_sweep" --seeds 0-1 data.epochs=6
check "the same command again exits 0" "[ $? -eq 0 ]"
check "a stopped run resumed from its checkpoint" \
  "grep -rl --include=run.log -e '--resume' '$work/stopped' | grep -q ."
check "the resumed sweep's report equals the uninterrupted one's" "same_report '$work/stopped' '$work/whole'"

"$sweep" -q -j 2 -o "$work/stopped" "$digits_sweep" data.epochs=5 2>"$work/err-other"
check "a folder of runs with other overrides is refused before anything runs" \
  "[ $? -eq 1 ] && grep -q 'this folder holds a run of' '$work/err-other'"

# --- a failing run among good ones -------------------------------------------------
cat >"$work/mixed.sweep" <<EOF
[sweep]
pipelines = $src/pipelines/digits-1x64-linear-threshold.pipeline
seeds = 0-1
output-dir = $work/mixed2
[overrides]
settle.method = equilibrium
data.epochs = 2
[grid]
adam.learning-rate = 0.001, -1
EOF
"$sweep" -q -j 2 "$work/mixed.sweep" 2>"$work/err-mixed"
check "a bad grid value fails its runs only (exit 1)" "[ $? -eq 1 ]"
check "the good runs finished" \
  "[ \$(grep -lx 'status=finished' -r '$work/mixed2' --include=sweep-run.ini | wc -l) -eq 2 ]"
check "the failed runs are reported with disco-run's message" \
  "grep -q 'adam.learning-rate=-1/seed-0.: disco-run: override .*value -1 is out of range' '$work/mixed2/report.md'"
check "the failure is said on stderr" "grep -q 'failed: .*learning-rate' '$work/err-mixed'"

# --- bad sweep files: exit 1, file:line, nothing written -------------------------
bad() {  # name, expected message (grep -F), file contents, extra args...
  local name=$1 expect=$2 contents=$3
  shift 3
  printf '%b' "$contents" >"$work/$name.sweep"
  "$sweep" -q -o "$work/bad-$name" "$work/$name.sweep" "$@" >/dev/null 2>"$work/err-$name"
  local status=$?
  if [ $status -eq 1 ] && grep -qF -- "$expect" "$work/err-$name" && [ ! -e "$work/bad-$name" ]; then
    ok "bad sweep file: $name"
  else
    fail "bad sweep file: $name (exit $status, wanted: $expect): $(cat "$work/err-$name")"
  fi
}
digits="$src/pipelines/digits-1x64-linear-threshold.pipeline"
bad unknown-key "unknown-key.sweep:3: unknown key \"seed\" in [sweep]" \
  "[sweep]\npipelines = $digits\nseed = 0\n"
bad unknown-group "unknown-group.sweep:4: unknown group [grids]" \
  "[sweep]\npipelines = $digits\nseeds = 0\n[grids]\n"
bad no-match "no-match.sweep:2: pipelines: no pipeline file matches \"nothing-*.pipeline\"" \
  "[sweep]\npipelines = nothing-*.pipeline\nseeds = 0\n"
bad backwards-seeds "backwards-seeds.sweep:3: seeds: the range \"9-2\" runs backwards" \
  "[sweep]\npipelines = $digits\nseeds = 9-2\n"
bad bad-seed "bad-seed.sweep:3: seeds: \"x\" is not a seed" \
  "[sweep]\npipelines = $digits\nseeds = 0, x\n"
bad twice-seed "twice-seed.sweep:3: seeds: seed 1 is given twice" \
  "[sweep]\npipelines = $digits\nseeds = 0-2, 1\n"
bad no-seeds "no-seeds.sweep:1: [sweep] has no seeds = line" "[sweep]\npipelines = $digits\n"
bad no-sweep "no-sweep.sweep: a sweep file needs a [sweep] group" "[overrides]\na.b = 1\n"
bad not-dotted "not-dotted.sweep:5: \"epochs\" is not a node.property name" \
  "[sweep]\npipelines = $digits\nseeds = 0\n[overrides]\nepochs = 3\n"
bad seed-override "seed-override.sweep:5: the sweep sets pipeline.seed itself" \
  "[sweep]\npipelines = $digits\nseeds = 0\n[grid]\npipeline.seed = 1, 2\n"
bad empty-grid-value "empty-grid-value.sweep:5: grid adam.learning-rate: an empty value" \
  "[sweep]\npipelines = $digits\nseeds = 0\n[grid]\nadam.learning-rate = 0.1,,0.2\n"
bad syntax "syntax.sweep:2: expected \"[group]\" or \"key = value\"" "[sweep]\npipelines\n"
bad command-line "override \"epochs=3\": \"epochs\" is not a node.property name" \
  "[sweep]\npipelines = $digits\nseeds = 0\n" epochs=3
bad only-nothing "--only x*: no pipeline of the sweep has a matching name" \
  "[sweep]\npipelines = $digits\nseeds = 0\n" --only 'x*'
# Issue #15: a NUL byte no longer ends the file early; controls are named.
bad nul "nul.sweep:3:1: U+0000 (NUL)" "[sweep]\npipelines = $digits\n\0seeds = 0\n"
bad control "control.sweep:3:9: control character U+0007 (BEL)" \
  "[sweep]\npipelines = $digits\nseeds = \a0\n"
bad command-line-control "override \"a.b=1\\033\": control character U+001B (ESC)" \
  "[sweep]\npipelines = $digits\nseeds = 0\n" "$(printf 'a.b=1\033')"

"$sweep" -q "$work/does-not-exist.sweep" 2>"$work/err-missing"
check "a missing sweep file: exit 1 and its name" "[ $? -eq 1 ] && grep -q 'does-not-exist.sweep: cannot read' '$work/err-missing'"
"$sweep" -q 2>/dev/null
check "no sweep file: usage error (2)" "[ $? -eq 2 ]"
"$sweep" -q -j -1 "$digits_sweep" 2>/dev/null
check "-j -1: usage error (2)" "[ $? -eq 2 ]"

# --- the shipped sweeps expand ---------------------------------------------------
check "table1.sweep: 12 pipelines × 10 seeds" \
  "[ \$(cd '$work' && '$sweep' -l '$src/pipelines/table1.sweep' | wc -l) -eq 120 ]"
check "table1.sweep holds no open-loop pipeline" \
  "! (cd '$work' && '$sweep' -l '$src/pipelines/table1.sweep') | grep -q open-loop"
check "table1-quick.sweep: 12 pipelines × 2 seeds" \
  "[ \$(cd '$work' && '$sweep' -l '$src/pipelines/table1-quick.sweep' | wc -l) -eq 24 ]"
check "--seeds and --only choose a part with the whole sweep's folders" \
  "(cd '$work' && '$sweep' -l --seeds 0-2 --only '*-1x256-*' '$src/pipelines/table1.sweep') | awk '{print \$1}' | grep -c '^runs/table1/[a-z]*-1x256-[a-z-]*/seed-[012]\$' | grep -qx 18"

tap_done
