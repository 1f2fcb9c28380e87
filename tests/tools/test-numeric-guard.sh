#!/usr/bin/env bash
# End-to-end checks of what a run does with numbers that go wrong:
#  - a diverging run stops in the tick a NaN or infinity appears, exit status 1,
#    naming the tick (epoch, phase, batch), the node and the tensor; the
#    report holds no null and the checkpoint kept is finite;
#  - with drawing nodes, the node where the NaN appeared is blamed, not the
#    drawing node that would have refused it;
#  - samples whose solve ends unconverged (max-steps) are counted per phase in
#    results.json and warned about on stderr; a sound run counts 0, silently.
#   usage: test-numeric-guard.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
build=$1
src=$2
. "$src/tests/common/tap.sh"
. "$src/tests/common/images-pipeline.sh"
run=$build/tools/disco-run
digits=$src/pipelines/digits-1x64-linear-threshold.pipeline

# JSON facts, read with the system Python.
json() { /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }

# Whether every .npy file of a folder holds finite float32 values only (no
# numpy needed: the header, then the raw values).
finite_npy() {
  /usr/bin/python3 - "$1" <<'PY'
import array, ast, glob, math, sys
files = glob.glob(sys.argv[1] + "/*.npy")
assert files, "no .npy file"
for path in files:
    data = open(path, "rb").read()
    assert data[:6] == b"\x93NUMPY", path
    header_len = int.from_bytes(data[8:10], "little")
    header = ast.literal_eval(data[10:10 + header_len].decode("latin1"))
    assert header["descr"] == "<f4", (path, header)
    values = array.array("f", data[10 + header_len:])
    bad = [v for v in values if not math.isfinite(v)]
    assert not bad, "%s: %d values not finite" % (path, len(bad))
PY
}

# The message: "epoch E, PHASE, batch B: node "N" (type) produced a
# non-finite value: <tensor> holds NaN at [i, j] (...)".
pattern='epoch [0-9]+, (train|validation|test), batch [0-9]+: node "[^"]+" \([a-z-]+\) produced a non-finite value: [^:]*(output|gradient|parameter) "[^"]+"'

# 1. A learning rate of 10 makes the E–I network diverge in epoch 2.
"$run" -q -o "$work/div" "$digits" adam.learning-rate=10 settle.method=equilibrium \
  data.limit=100 data.epochs=3 2>"$work/err"
status=$?
echo "# $(tail -n 1 "$work/err")"
check "a diverging run exits with status 1" '[ $status -eq 1 ]'
check "its message names the tick, the node and the tensor" \
  'grep -Eq "$pattern" "$work/err"'
check "it stops in the tick the NaN appears (epoch 2, train, batch 1)" \
  'grep -q "epoch 2, train, batch 1: node \"settle\" (integrator) produced a non-finite value: its output \"state\"" "$work/err"'
check "the report of the epochs before holds no null" \
  '[ -f "$work/div/results.json" ] && ! grep "\"epoch\": " "$work/div/results.json" | grep -q null &&
   [ "$(json "$work/div/results.json" "len(r[\"epochs\"])")" = 1 ]'
check "the checkpoint kept is epoch 1's, and finite" \
  'grep -q "^epoch=1$" "$work/div/checkpoint/state.ini" && finite_npy "$work/div/checkpoint"'
check "the message says the checkpoint of epoch 1 is kept" \
  'grep -q "the checkpoint of epoch 1 is kept" "$work/err"'

# 2. The same with drawing nodes: an activity image drawn every tick from the
# recorded sample, and receptive fields after every epoch. Without the check,
# the activity image refused the NaN and was blamed for it.
images_pipeline "$src" "$digits" 1 >"$work/images.pipeline"
"$run" -q -o "$work/images" "$work/images.pipeline" adam.learning-rate=10 \
  settle.method=equilibrium data.limit=100 data.epochs=3 2>"$work/err"
status=$?
echo "# $(tail -n 1 "$work/err")"
check "with drawing nodes, the diverging run exits with status 1" '[ $status -eq 1 ]'
check "the node where the NaN appeared is blamed, not a drawing node" \
  'grep -Eq "$pattern" "$work/err" && grep -q "node \"settle\" (integrator) produced" "$work/err" &&
   ! grep -q "node \"rates\"\|node \"fields\"" "$work/err"'

# 3. Three steps are not enough for any sample to settle.
"$run" -q -o "$work/steps" "$digits" settle.max-steps=3 data.limit=100 data.epochs=1 \
  2>"$work/err"
status=$?
check "a run out of solver steps still completes" '[ $status -eq 0 ]'
check "results.json counts the unconverged samples of each phase" \
  '[ "$(json "$work/steps/results.json" "[r[\"epochs\"][0][p][\"unconverged\"] for p in (\"train\", \"validation\", \"test\")]")" = "[100, 100, 100]" ]'
check "stderr warns about them, per phase" \
  '[ "$(grep -c "ended a solve unconverged (100 at max-steps = 3" "$work/err")" = 3 ]'

# 4. A sound run: 0 unconverged, no warning.
"$run" -q -o "$work/sound" "$digits" data.limit=100 data.epochs=1 2>"$work/err"
status=$?
check "a sound run reports 0 unconverged samples in every phase" \
  '[ $status -eq 0 ] &&
   [ "$(json "$work/sound/results.json" "[r[\"epochs\"][0][p][\"unconverged\"] for p in (\"train\", \"validation\", \"test\")]")" = "[0, 0, 0]" ]'
check "and warns about nothing" '[ ! -s "$work/err" ]'

tap_done
