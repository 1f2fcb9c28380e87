#!/usr/bin/env bash
# One run on several threads gives what it gives on one: results.json byte
# for byte (wall time and output folder aside) with 1, 2 and 3 CPU threads
# ($DISCO_THREADS and disco-run --threads), for the equilibrium and the ODE
# solvers, a one- and a three-layer network and both plasticity rules, and
# minibatches solved in one block of samples or in several of unequal size.
#   usage: test-threads.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
build=$1
src=$2
. "$src/tests/common/tap.sh"
. "$src/tests/common/results.sh"
run=$build/tools/disco-run

# name | pipeline | overrides (MNIST: 300 samples, each phase several minibatches)
cases=(
  "1x256 linear threshold, equilibrium|mnist-1x256-linear-threshold|data.limit=300 settle.method=equilibrium"
  "3x256 linear threshold, equilibrium|mnist-3x256-linear-threshold|data.limit=300 settle.method=equilibrium"
  "1x256 exact inverse, tsit5|mnist-1x256-exact-inverse|data.limit=200"
  "3x256 backprop, tsit5|mnist-3x256-backprop|data.limit=200"
  "digits 1x64 linear threshold, 3 epochs|digits-1x64-linear-threshold|"
  # Minibatches of 230 and 70: four blocks of 57 or 58 samples, then one.
  "1x256 linear threshold, batch 230, tsit5|mnist-1x256-linear-threshold|data.limit=300 data.batch-size=230"
  "1x256 linear threshold, batch 230, equilibrium|mnist-1x256-linear-threshold|data.limit=300 data.batch-size=230 settle.method=equilibrium"
  # Every closed loop handed to tsit5 after its blocks (contraction test).
  "1x256 linear threshold, batch 230, equilibrium falling back|mnist-1x256-linear-threshold|data.limit=300 data.batch-size=230 settle.method=equilibrium settle.contraction-limit=0.0001"
)
for entry in "${cases[@]}"; do
  IFS='|' read -r name pipeline overrides <<<"$entry"
  file=$src/pipelines/$pipeline.pipeline
  # shellcheck disable=SC2086
  DISCO_THREADS=1 "$run" -q -o "$work/one" "$file" data.epochs=1 $overrides 2>"$work/err1"
  status1=$?
  # shellcheck disable=SC2086
  DISCO_THREADS=2 "$run" -q -o "$work/two" "$file" data.epochs=1 $overrides 2>"$work/err2"
  status2=$?
  # shellcheck disable=SC2086
  "$run" -q --threads 3 -o "$work/three" "$file" data.epochs=1 $overrides 2>"$work/err3"
  status3=$?
  if [ $status1 -eq 0 ] && [ $status2 -eq 0 ] && [ $status3 -eq 0 ] &&
     cmp -s <(strip_results "$work/one/results.json") <(strip_results "$work/two/results.json") &&
     cmp -s <(strip_results "$work/one/results.json") <(strip_results "$work/three/results.json"); then
    ok "$name: results.json the same with 1, 2 and 3 threads"
  else
    fail "$name: $(cat "$work/err1" "$work/err2" "$work/err3"; diff <(strip_results "$work/one/results.json") <(strip_results "$work/two/results.json") | head -5)"
  fi
  rm -rf "$work/one" "$work/two" "$work/three"
done

"$run" -q --threads 0 quick 2>"$work/err"
check "disco-run --threads 0 is a usage error (status 2) that says the range" \
  "[ $? -eq 2 ] && grep -q 'from 1 to 256' '$work/err'"
DISCO_THREADS=many "$run" -q -o "$work/bad" "$src/pipelines/digits-1x64-linear-threshold.pipeline" data.epochs=1 2>"$work/err"
check "DISCO_THREADS=many is a usage error (status 2) that names it, and nothing is written" \
  "[ $? -eq 2 ] && grep -q 'DISCO_THREADS=\"many\"' '$work/err' && [ ! -e '$work/bad' ]"

tap_done
