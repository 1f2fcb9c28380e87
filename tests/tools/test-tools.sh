#!/usr/bin/env bash
# End-to-end tests of disco-run and disco-inspect: real runs, real files,
# every bad input of issue #2 with its exit status and message, and no output
# written on bad input.
#   usage: test-tools.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
build=$1
src=$2
. "$src/tests/common/tap.sh"
run=$build/tools/disco-run
inspect=$build/tools/disco-inspect

# --- a real run --------------------------------------------------------------
"$run" -o "$work/out" "$src/pipelines/quickstart.pipeline" >"$work/stdout" 2>"$work/stderr"
check "quickstart exits 0" "[ $? -eq 0 ]"
check "quickstart wrote 20 ticks" "[ \$(wc -l < '$work/out/quickstart.csv') -eq 21 ]"
# last tick: value 0.5 + 19 × 0.25 = 5.25, scaled 2 × 5.25 − 1 = 9.5, 12 values
check "quickstart last line is exact" "[ \"\$(tail -n 1 '$work/out/quickstart.csv')\" = '19,4,4,none,12,114' ]"
check "progress is plain lines when not a TTY" "grep -q '^epoch 4/4 · batch 4 · tick 20/20' '$work/stderr'"
check "the device is reported" "grep -q 'on cpu (requested: auto)' '$work/stderr'"
check "only the report and the last checkpoint are left, no temporary file" "[ \"\$(ls '$work/out' | tr '\\n' ' ')\" = 'checkpoint quickstart.csv ' ] && [ -f '$work/out/checkpoint/state.ini' ]"

"$run" -q -o "$work/out2" "$src/pipelines/quickstart.pipeline" numbers.ticks=3 scaled.offset=0 2>"$work/stderr"
check "overrides apply" "[ \"\$(tail -n 1 '$work/out2/quickstart.csv')\" = '2,1,2,none,12,24' ]"
check "-q prints nothing" "[ ! -s '$work/stderr' ]"

# --- bad inputs: exit 1, a located message, nothing written ----------------------
good=$src/pipelines/quickstart.pipeline
bad() {  # name, expected message (grep -F), file contents or "", extra args...
  local name=$1 expect=$2 contents=$3
  shift 3
  local file=$work/$name.pipeline
  if [ -n "$contents" ]; then printf '%b' "$contents" >"$file"; else file=$good; fi
  "$run" -o "$work/bad-$name" "$file" "$@" >/dev/null 2>"$work/err-$name"
  local status=$?
  # Issue #15: bad input is an error message, never a GLib critical or warning.
  if [ $status -eq 1 ] && grep -qF -- "$expect" "$work/err-$name" && [ ! -e "$work/bad-$name" ] &&
     ! grep -qE 'CRITICAL|WARNING|assertion' "$work/err-$name"; then
    ok "bad input $name"
  else
    fail "bad input $name (exit $status, wanted message: $expect): $(cat "$work/err-$name")"
  fi
}
bad unknown-type ":2: no node type \"microcircut\"" "[a]\nnode = microcircut\n"
bad unknown-property ":3: no property \"valu\"" "[a]\nnode = constant-source\nvalu = 3\n"
bad wrong-type ":3: property \"value\"" "[a]\nnode = constant-source\nvalue = high\n"
bad out-of-range ":3: property \"ticks\"" "[a]\nnode = constant-source\nticks = -5\n"
bad missing-node ":5: input \"b.input\" links to \"c\", but there is no node \"c\"" \
    "[a]\nnode = constant-source\n[b]\nnode = recorder\ninput = c\n"
bad missing-port ":5: no output port \"images\"" \
    "[a]\nnode = constant-source\n[b]\nnode = recorder\ninput = a.images\n"
bad two-producers ":6: key \"input\" of [b] is already set" \
    "[a]\nnode = constant-source\n[b]\nnode = recorder\ninput = a\ninput = a\n"
bad cycle "algebraic loop" \
    "[a]\nnode = constant-source\n[f]\nnode = affine\ninput = g\n[g]\nnode = affine\ninput = f\n"
bad syntax ":4: expected \"[group]\" or \"key = value\"" "[a]\nnode = constant-source\n\nwhat is this\n"
bad override-node "override \"nosuch.ticks=3\": the pipeline has no node \"nosuch\"" "" nosuch.ticks=3
bad override-property "override \"numbers.tick=3\": no property \"tick\"" "" numbers.tick=3
bad prepare-failure "property \"shape\" of node \"a\"" "[a]\nnode = constant-source\nshape = 0\n"
# Issue #15: text that is not text (a NUL byte used to end the file early)
bad nul-byte ":3:1: U+0000 (NUL): a NUL byte is not allowed" \
    "[a]\nnode = constant-source\n\0[b]\nnode = recorder\ninput = a\n"
bad bom ":1:1: U+FEFF: a UTF-8 byte-order mark (BOM) is not allowed" \
    "\xef\xbb\xbf[a]\nnode = constant-source\n"
bad control-char ":3:9: control character U+001B (ESC) is not allowed" \
    "[a]\nnode = constant-source\nticks = \x1b[31m3\n"
bad lone-cr ":2:23: U+000D (CR) is allowed only in a CR LF line end" \
    "[a]\nnode = constant-source\rticks = 3\n"
bad invalid-utf8 ":2:11: not valid UTF-8 text (byte 0xE9)" "[a]\nnode = caf\xe9\n"
bad override-control "override \"numbers.ticks=3\\nx\": control character U+000A (LF)" "" \
    $'numbers.ticks=3\nx'
# Issue #15: sizes that pass the range checks but not the memory
bad huge-output "node \"a\" (constant-source): output \"output\", a 1000000×1000000 tensor, needs 3.6 TiB" \
    "[a]\nnode = constant-source\nshape = 1000000,1000000\n[b]\nnode = recorder\ninput = a\n"
bad memory-limit "over the run's memory limit of 1.0 MiB (pipeline.memory-limit = 1 MiB" "" \
    numbers.shape=1000,1000 pipeline.memory-limit=1
bad overflowing-shape "\"4294967295,4294967295,4294967295\" has more values than any memory holds" \
    "[a]\nnode = constant-source\nshape = 4294967295,4294967295,4294967295\n"
bad huge-layer ":5: node \"h1\" (microcircuit): a 65536×784 tensor needs 196.0 MiB, over the memory limit of 64.0 MiB" \
    "[data]\nnode = idx-loader\npath = $src/data/fixtures/mnist\nbatch-size = 10\n[h1]\nnode = microcircuit\ninput = data.images\nsize = 65536\n[out]\nnode = readout\ninput = h1\nsize = 10\n" \
    pipeline.memory-limit=64

"$run" -o "$work/bad-missing" "$work/no-such.pipeline" 2>"$work/err"
check "missing file exits 1 naming it" "[ $? -eq 1 ] && grep -qF '$work/no-such.pipeline: cannot read' '$work/err' && [ ! -e '$work/bad-missing' ]"
mkdir "$work/dir.pipeline"
"$run" "$work/dir.pipeline" 2>"$work/err"
check "unreadable file exits 1 naming it" "[ $? -eq 1 ] && grep -qF '$work/dir.pipeline: cannot read' '$work/err'"
"$run" 2>/dev/null
check "no file is a usage error (exit 2)" "[ $? -eq 2 ]"
"$run" --no-such-option "$good" 2>/dev/null
check "unknown option is a usage error (exit 2)" "[ $? -eq 2 ]"

# --- pipelines by name --------------------------------------------------------------
# From the build tree a name is looked up in the current folder, then in
# $DISCO_PIPELINE_PATH, then in the source tree's pipelines/.
mkdir -p "$work/names/path" "$work/names/cwd"
(cd "$work/names/cwd" && "$run" -q -o "$work/byname" quickstart numbers.ticks=3 scaled.offset=0 2>"$work/err")
check "a name runs the example pipeline (quickstart)" \
      "[ $? -eq 0 ] && [ \"\$(tail -n 1 '$work/byname/quickstart.csv')\" = '2,1,2,none,12,24' ]"
sed 's/^ticks = .*/ticks = 2/' "$good" >"$work/names/path/quickstart.pipeline"
(cd "$work/names/cwd" && DISCO_PIPELINE_PATH=/nonexistent:$work/names/path "$run" -o "$work/bypath" quickstart 2>"$work/err")
check "\$DISCO_PIPELINE_PATH comes before the examples" \
      "[ $? -eq 0 ] && [ \$(wc -l < '$work/bypath/quickstart.csv') -eq 3 ] && grep -qF '$work/names/path/quickstart.pipeline on' '$work/err'"
sed 's/^ticks = .*/ticks = 1/' "$good" >"$work/names/cwd/quickstart.pipeline"
(cd "$work/names/cwd" && DISCO_PIPELINE_PATH=$work/names/path "$run" -q -o "$work/bycwd" quickstart)
check "the current folder comes first" "[ \$(wc -l < '$work/bycwd/quickstart.csv') -eq 2 ]"
(cd "$work/names" && "$run" -o "$work/bad-name" no-such-name 2>"$work/err")
check "an unknown name exits 1 saying where it looked" \
      "[ $? -eq 1 ] && grep -qF 'no-such-name: no such pipeline file' '$work/err' && grep -qF '$src/pipelines' '$work/err' && [ ! -e '$work/bad-name' ]"
DISCO_PIPELINE_PATH=$work/names/path "$run" --list-pipelines >"$work/list"
check "--list-pipelines lists each folder's pipelines with their first comment line" \
      "grep -qxF '# $work/names/path' '$work/list' && grep -qxF '# $src/pipelines' '$work/list' && grep -qE '^quick +The quick default: MNIST' '$work/list'"
check "--list-pipelines shows a hidden name once, from the first folder" \
      "[ \$(grep -c '^quickstart ' '$work/list') -eq 1 ] && [ \"\$(sed -n 2p '$work/list' | cut -c1-10)\" = quickstart ]"

# --- one run per output folder (issue #15) -----------------------------------------
# A run holds <out>/.disco/lock: a second run into the folder is refused naming
# the holder's pid, also with --overwrite or --resume, and the lock goes when
# the holder stops on SIGTERM.
slow="numbers.ticks=4000000000 numbers.shape=1000,1000"
"$run" -q -o "$work/busy" "$good" $slow 2>"$work/err15-busy-first" &
first=$!
for _ in $(seq 1 300); do [ -f "$work/busy/.disco/lock" ] && break; sleep 0.1; done
"$run" -q -o "$work/busy" "$good" 2>"$work/err15-busy"
status=$?
"$run" -q --overwrite -o "$work/busy" "$good" 2>"$work/err15-busy-overwrite"
status_overwrite=$?
kill -TERM $first
wait $first
first_status=$?
check "a second run into a folder in use is refused, naming the holder's pid (exit 1)" \
  "[ $status -eq 1 ] && grep -qF 'the output folder is in use by another run: process $first on' '$work/err15-busy'"
check "so is a second run with --overwrite, which removes nothing" \
  "[ $status_overwrite -eq 1 ] && grep -qF 'process $first on' '$work/err15-busy-overwrite' && [ -f '$work/busy/quickstart.csv' ]"
check "the holder stops on SIGTERM (130) and releases the lock" \
  "[ $first_status -eq 130 ] && [ ! -e '$work/busy/.disco/lock' ]"

# A lock left by a process that is gone (killed) is taken over, with a note;
# one from another host is not.
sh -c 'exit 0' &
dead=$!
wait $dead
mkdir -p "$work/stale/.disco"
echo "$dead $(hostname)" >"$work/stale/.disco/lock"
"$run" -q -o "$work/stale" "$good" 2>"$work/err15-stale"
check "a stale lock of a dead process on this host is taken over with a note" \
  "[ $? -eq 0 ] && grep -qF 'taking over the lock of process $dead' '$work/err15-stale' && [ ! -e '$work/stale/.disco/lock' ]"
mkdir -p "$work/remote/.disco"
echo "4242 some-other-host" >"$work/remote/.disco/lock"
"$run" -q -o "$work/remote" "$good" 2>"$work/err15-remote"
check "a lock held from another host is refused, naming host and pid" \
  "[ $? -eq 1 ] && grep -qF 'process 4242 on some-other-host' '$work/err15-remote' && [ -f '$work/remote/.disco/lock' ]"

# A new run into a finished run's folder is refused; --overwrite replaces it.
"$run" -q -o "$work/done" "$good" 2>/dev/null
cp "$work/done/quickstart.csv" "$work/done.csv"
"$run" -q -o "$work/done" "$good" numbers.ticks=3 2>"$work/err15-done"
check "a new run into a folder that holds a run is refused, suggesting --resume or --overwrite" \
  "[ $? -eq 1 ] && grep -qF 'holds a previous run (checkpoint/state.ini and 1 more file it wrote)' '$work/err15-done' && grep -qF -- '--overwrite' '$work/err15-done' && grep -qF -- '--resume' '$work/err15-done' && cmp -s '$work/done.csv' '$work/done/quickstart.csv'"

# --overwrite removes exactly what the previous run wrote: a run of 3 epochs
# leaves 3 receptive-field images; one of 1 epoch over it leaves 1, and the
# files the run did not write (a sweep's run.log and sweep-run.ini, notes) stay.
printf '%s\n' "[fields]" "node = receptive-fields" "layer = h1" "tile-width = 8" "tile-height = 8" \
  "path = fields/epoch-%04u.png" | cat "$src/pipelines/digits-1x64-linear-threshold.pipeline" - \
  >"$work/fields.pipeline"
digits_data="data.path=$src/data/datasets/digits/digits.csv.gz"
"$run" -q -o "$work/images" "$work/fields.pipeline" "$digits_data" settle.method=equilibrium \
  2>"$work/err15-images"
echo "keep me" >"$work/images/notes.txt"
echo "log" >"$work/images/run.log"
echo "[run]" >"$work/images/sweep-run.ini"
check "a 3-epoch run leaves 3 images" "[ \$(ls '$work/images/fields' | wc -l) -eq 3 ]"
"$run" -q --overwrite -o "$work/images" "$work/fields.pipeline" "$digits_data" \
  settle.method=equilibrium data.epochs=1 2>"$work/err15-overwrite"
check "--overwrite with 1 epoch leaves only that epoch's image and report" \
  "[ $? -eq 0 ] && [ \"\$(ls '$work/images/fields')\" = epoch-0001.png ] && [ \$(grep -c '\"epoch\": ' '$work/images/results.json') -eq 1 ] && grep -q '^epoch=1$' '$work/images/checkpoint/state.ini'"
check "--overwrite keeps every file the run did not write" \
  "[ \"\$(cat '$work/images/notes.txt')\" = 'keep me' ] && [ -f '$work/images/run.log' ] && [ -f '$work/images/sweep-run.ini' ]"
"$run" -q --overwrite -o "$work/fresh" "$good" 2>"$work/err15-fresh"
check "--overwrite into a new folder is a plain run" "[ $? -eq 0 ] && [ -f '$work/fresh/quickstart.csv' ]"
"$run" -q --resume "$work/done" --overwrite 2>/dev/null
check "--resume with --overwrite is a usage error (exit 2)" "[ $? -eq 2 ]"
"$run" -q --force -o "$work/force" "$good" 2>/dev/null
check "--force without --resume is a usage error (exit 2)" "[ $? -eq 2 ] && [ ! -e '$work/force' ]"
check "no CRITICAL in any of these runs" "! cat '$work'/err15-* | grep -q CRITICAL"

# --- disco-inspect ----------------------------------------------------------------
"$inspect" >"$work/list"
check "disco-inspect lists the node types" "grep -q '^constant-source ' '$work/list' && grep -q '^recorder ' '$work/list'"
"$inspect" affine >"$work/affine"
check "disco-inspect NODE shows ports and properties" \
      "grep -q 'Input ports:' '$work/affine' && grep -q 'scale *: Factor applied' '$work/affine' && grep -q 'gdouble. Range: .*Default: 1' '$work/affine'"
"$inspect" nosuch 2>/dev/null
check "disco-inspect of an unknown type exits 1" "[ $? -eq 1 ]"
"$inspect" --json >"$work/nodes.json"
if diff -u "$src/docs/nodes.json" "$work/nodes.json" >"$work/json.diff"; then
  ok "docs/nodes.json matches disco-inspect --json"
else
  fail "docs/nodes.json is out of date (run: $inspect --json > docs/nodes.json)"
  cat "$work/json.diff"
fi
/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert all(p['blurb'] for n in d.values() for p in n['properties'])" "$work/nodes.json"
check "every property of every node has a blurb (valid JSON)" "[ $? -eq 0 ]"

tap_done
