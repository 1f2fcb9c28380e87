#!/usr/bin/env bash
# End-to-end training checks with disco-run:
#  - every ready pipeline runs (1 epoch, 100 samples per phase) and reports;
#  - a small network learns the 8×8 digits well above chance with a fixed seed;
#  - a run stopped mid-way and resumed gives the same numbers as one that was not.
#   usage: test-training.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
build=$1
src=$2
. "$src/tests/common/tap.sh"
run=$build/tools/disco-run

# JSON facts, read with the system Python (no JSON library in C needed).
json() { /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }

for file in "$src"/pipelines/*.pipeline; do
  name=$(basename "$file" .pipeline)
  # The figure pipelines have no dataset: tests/figures/test-figure-pipelines.sh runs them.
  case $name in quickstart|default|figure3-*|figure4-*) continue ;; esac
  out=$work/$name
  if "$run" -q -o "$out" "$file" data.epochs=1 data.limit=100 2>"$work/err" &&
     [ "$(json "$out/results.json" "len(r['epochs'])")" = 1 ] &&
     [ "$(json "$out/results.json" "r['epochs'][0]['test']['samples']")" = 100 ]; then
    ok "pipeline $name runs and reports"
  else
    fail "pipeline $name: $(cat "$work/err")"
  fi
done

# The Table 1 pipelines (E–I and the backprop baseline) run on CUDA and take
# the device path wherever a GPU is usable; DISCO_DEVICE_PATH=table runs
# that very code on the host table.  Their reports must match the host
# code's: every accuracy, and every loss within 1e-5 relative.
for file in "$src"/pipelines/*-exact-inverse.pipeline "$src"/pipelines/*-linear-threshold.pipeline \
            "$src"/pipelines/*-open-loop.pipeline "$src"/pipelines/*-backprop.pipeline; do
  name=$(basename "$file" .pipeline)
  case $name in digits-*) continue ;; esac
  DISCO_DEVICE_PATH=table "$run" -q -o "$work/$name-table" "$file" data.epochs=1 data.limit=100 \
    2>"$work/err"
  if [ $? -eq 0 ] && /usr/bin/python3 - "$work/$name/results.json" "$work/$name-table/results.json" <<'PY'
import json, sys
host, table = (json.load(open(p))["epochs"][0] for p in sys.argv[1:3])
worst = 0.0
for phase, figures in host.items():
    if not isinstance(figures, dict) or "loss" not in figures:
        continue
    other = table[phase]
    assert figures["accuracy"] == other["accuracy"], (phase, figures["accuracy"], other["accuracy"])
    worst = max(worst, abs(figures["loss"] - other["loss"]) / max(abs(figures["loss"]), 1e-12))
print("# %s: largest relative loss difference, host table vs host code: %.2g" % (sys.argv[1].split("/")[-2], worst))
sys.exit(0 if worst <= 1e-5 else 1)
PY
  then
    ok "pipeline $name on the device path (host table) reports what the host code does"
  else
    fail "pipeline $name on the device path: $(cat "$work/err")"
  fi
done

digits=$src/pipelines/digits-1x64-linear-threshold.pipeline
"$run" -q -o "$work/full" "$digits" 2>"$work/err"
accuracy=$(json "$work/full/results.json" "r['epochs'][-1]['test']['accuracy']")
echo "# digits, 3 epochs of the linear-threshold rule: test accuracy $accuracy %"
if /usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > 60 else 1)" "$accuracy"; then
  ok "a 64-unit E–I network learns the digits well above chance (10 %)"
else
  fail "digits test accuracy $accuracy % is not above 60 %: $(cat "$work/err")"
fi

norms=$(json "$work/full/results.json" "[round(r['epochs'][i]['weight_norms']['h1.weight'], 6) for i in range(3)]")
if json "$work/full/results.json" "r['epochs'][2]['weight_norm'] > 0 and len(set($norms)) == 3" | grep -q True; then
  ok "the report records the weights' norms, which change with learning: $norms"
else
  fail "weight norms missing or constant: $norms"
fi

# Stop in the middle of epoch 2 (the first epoch has 26 ticks of 50 + 3 + 8),
# then resume: the report must equal the uninterrupted one, epoch by epoch.
"$run" -q -o "$work/part" "$digits" pipeline.max-ticks=50 2>"$work/err"
if [ "$(json "$work/part/results.json" "len(r['epochs'])")" = 1 ] &&
   grep -q '^epoch=1$' "$work/part/checkpoint/state.ini"; then
  ok "a run stopped in epoch 2 has a report and a checkpoint of epoch 1 only"
else
  fail "stopped run: $(cat "$work/err") $(cat "$work/part/checkpoint/state.ini")"
fi
"$run" -q --resume "$work/part" pipeline.max-ticks=0 2>"$work/err"
if diff <(grep '"epoch": ' "$work/full/results.json") \
        <(grep '"epoch": ' "$work/part/results.json") >"$work/diff"; then
  ok "a resumed run reports exactly what an uninterrupted run reports"
else
  fail "resumed run differs: $(cat "$work/err" "$work/diff")"
fi
"$run" -q --resume "$work/no-such-run" 2>"$work/err"
if [ $? -eq 1 ] && grep -q 'cannot resume' "$work/err"; then
  ok "resuming a folder without a checkpoint is a clear error"
else
  fail "resume without checkpoint: $(cat "$work/err")"
fi

tap_done
