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

# --- checkpoints that prove themselves (issue #15) ---------------------------------
# state.ini lists every file with its shape, size and SHA-256, and its own
# SHA-256; resume refuses anything else, naming the file, and changes nothing.
# The pipeline is a copy, so that it can be edited (a comment, a layer).
sed "s#^path = \.\./data/#path = $src/data/#" "$digits" >"$work/copy.pipeline"
fast="settle.method=equilibrium"
"$run" -q -o "$work/ref" "$work/copy.pipeline" $fast 2>"$work/err15-ref"
"$run" -q -o "$work/stop" "$work/copy.pipeline" $fast pipeline.max-ticks=50 2>"$work/err15-stop"
if grep -q '^epoch=1$' "$work/stop/checkpoint/state.ini" &&
   grep -q '^h1.weight.npy=shape=(64,64) bytes=[0-9]* sha256=[0-9a-f]\{64\}$' "$work/stop/checkpoint/state.ini" &&
   grep -q '^file-sha256=[0-9a-f]\{64\}$' "$work/stop/checkpoint/state.ini"; then
  ok "a checkpoint's state.ini lists every file with shape, size and SHA-256, and the pipeline file's"
else
  fail "checkpoint manifest: $(cat "$work/err15-stop" "$work/stop/checkpoint/state.ini")"
fi
refused() {  # name, expected message (grep -F), damage (eval'ed in the copy's checkpoint/), extra args...
  local name=$1 expect=$2 damage=$3
  shift 3
  local dir=$work/edit-$name
  rm -rf "$dir"
  cp -r "$work/stop" "$dir"
  (cd "$dir/checkpoint" && eval "$damage")
  cp -r "$dir/checkpoint" "$work/before-$name"
  "$run" -q --resume "$dir" pipeline.max-ticks=0 "$@" >/dev/null 2>"$work/err15-$name"
  local status=$?
  if [ $status -eq 1 ] && grep -qF -- "$expect" "$work/err15-$name" &&
     ! grep -q CRITICAL "$work/err15-$name" &&
     diff -r "$work/before-$name" "$dir/checkpoint" >/dev/null &&
     [ "$(json "$dir/results.json" "len(r['epochs'])")" = 1 ]; then
    ok "resume refuses: $name"
  else
    fail "resume of $name (exit $status, wanted message: $expect): $(cat "$work/err15-$name")"
  fi
}
refused missing-adam-moment "checkpoint/adam.m:h1.weight.npy: missing: the checkpoint's manifest" \
  "rm 'adam.m:h1.weight.npy'"
refused epoch-0 "checkpoint/state.ini: edited after the checkpoint was written" \
  "sed -i 's/^epoch=1\$/epoch=0/' state.ini"
refused epoch-minus-1 "checkpoint/state.ini: epoch \"-1\" is out of range" \
  "sed -i 's/^epoch=1\$/epoch=-1/' state.ini"
refused ticks-not-a-number "checkpoint/state.ini: ticks \"many\" is out of range" \
  "sed -i 's/^ticks=.*/ticks=many/' state.ini"
refused truncated-npy "checkpoint/h1.weight.npy: holds 1000 bytes, the checkpoint's manifest lists" \
  "truncate -s 1000 h1.weight.npy"
refused changed-npy "checkpoint/out.weight.npy: changed since the checkpoint was written" \
  "printf '\\001' | dd of=out.weight.npy bs=1 seek=200 conv=notrunc 2>/dev/null"
refused changed-checksum "checkpoint/state.ini: edited after the checkpoint was written" \
  "sed -i 's/^\\(h1.bias.npy=.*sha256=\\)./\\10/' state.ini"
refused extra-file "checkpoint/h2.bias.npy: not part of the checkpoint" "cp h1.bias.npy h2.bias.npy"
refused no-manifest "checkpoint/state.ini: the checkpoint has no manifest" \
  "sed -i '/^\\[files\\]/,\$d' state.ini"

# Another pipeline: the file changed since the checkpoint (refused; --force
# accepts it), and --force never lets a checkpoint of other nodes or shapes in.
cp "$work/copy.pipeline" "$work/copy.orig"
sed -i 's/^size = 64$/size = 32/' "$work/copy.pipeline"
refused pipeline-file-changed "copy.pipeline changed since the checkpoint was written" ":"
refused other-shape-forced "checkpoint/h1.weight.npy: holds shape (64,64), parameter \"h1.weight\" of this pipeline has (32,64)" \
  ":" --force
cp "$work/copy.orig" "$work/copy.pipeline"
printf '[extra]\nnode = constant-source\n' >>"$work/copy.pipeline"
refused other-nodes-forced "checkpoint/state.ini: a checkpoint of another pipeline: it has no node \"extra\"" \
  ":" --force
cp "$work/copy.orig" "$work/copy.pipeline"
echo "# a comment changes no number" >>"$work/copy.pipeline"
rm -rf "$work/edit-comment"
cp -r "$work/stop" "$work/edit-comment"
"$run" -q --resume --force "$work/edit-comment" pipeline.max-ticks=0 2>"$work/err15-comment"
if [ $? -eq 0 ] && grep -qF 'resuming anyway (--force)' "$work/err15-comment" &&
   ! grep -q CRITICAL "$work/err15-comment" &&
   diff <(grep '"epoch": ' "$work/ref/results.json") \
        <(grep '"epoch": ' "$work/edit-comment/results.json") >/dev/null; then
  ok "--force resumes after a comment was edited, and the report equals the uninterrupted run's"
else
  fail "--force after a comment: $(cat "$work/err15-comment")"
fi
cp "$work/copy.orig" "$work/copy.pipeline"
"$run" -q --resume "$work/stop" pipeline.max-ticks=0 2>"$work/err15-intact"
if [ $? -eq 0 ] && diff <(grep '"epoch": ' "$work/ref/results.json") \
                        <(grep '"epoch": ' "$work/stop/results.json") >/dev/null; then
  ok "an intact checkpoint resumes to the uninterrupted run's report"
else
  fail "intact resume: $(cat "$work/err15-intact")"
fi

tap_done
