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
  if [ $status -eq 1 ] && grep -qF -- "$expect" "$work/err-$name" && [ ! -e "$work/bad-$name" ]; then
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

"$run" -o "$work/bad-missing" "$work/no-such.pipeline" 2>"$work/err"
check "missing file exits 1 naming it" "[ $? -eq 1 ] && grep -qF '$work/no-such.pipeline: cannot read' '$work/err' && [ ! -e '$work/bad-missing' ]"
mkdir "$work/dir.pipeline"
"$run" "$work/dir.pipeline" 2>"$work/err"
check "unreadable file exits 1 naming it" "[ $? -eq 1 ] && grep -qF '$work/dir.pipeline: cannot read' '$work/err'"
"$run" 2>/dev/null
check "no file is a usage error (exit 2)" "[ $? -eq 2 ]"
"$run" --no-such-option "$good" 2>/dev/null
check "unknown option is a usage error (exit 2)" "[ $? -eq 2 ]"

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
