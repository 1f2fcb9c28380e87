#!/usr/bin/env bash
# End-to-end tests of disco-inspect --graph: the Graphviz graph of a pipeline
# (nodes, ports, non-default properties, the three kinds of link), rendering
# through Graphviz's dot when it is installed, and bad input.
#   usage: test-graph.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
build=$1
src=$2
. "$src/tests/common/tap.sh"
inspect=$build/tools/disco-inspect
lt=$src/pipelines/mnist-1x256-linear-threshold.pipeline

"$inspect" --graph "$lt" >"$work/lt.dot" 2>"$work/err"
check "--graph exits 0 and writes a digraph" "[ $? -eq 0 ] && head -n 1 '$work/lt.dot' | grep -qx 'digraph pipeline {' && [ ! -s '$work/err' ]"
# has_record NODE TYPE: the node's line holds a record labelled "NODE\nTYPE".
has_record() { grep -F "\"$1\" [label=\"{" "$work/lt.dot" | grep -qE "[{|]$1\\\\n$2[|}]"; }
for node in data:idx-loader h1:microcircuit out:readout control:leaky-pi settle:integrator \
            learn:plasticity adam:adam score:evaluator; do
  check "node ${node%%:*} is a record with its name and type" "has_record ${node%%:*} ${node#*:}"
done
check "h1 is a microcircuit, with its input ports as fields" \
      "grep -F '\"h1\" [label=' '$work/lt.dot' | grep -qF '{<i_input> input|<i_feedback> feedback}|h1\\nmicrocircuit'"
check "feed-forward edge h1 -> out, port to port" \
      "grep -qF '\"h1\":o_output:s -> \"out\":i_input:n' '$work/lt.dot'"
check "tick-ordering edge data.images -> h1.input is solid" \
      "grep -qxF '  \"data\":o_images:s -> \"h1\":i_input:n;' '$work/lt.dot'"
check "feedback control -> h1 is a dashed state coupling that does not constrain the layout" \
      "grep -F '\"control\":o_output:e -> \"h1\":i_feedback:e' '$work/lt.dot' | grep -qF 'style=dashed' && grep -F '\"control\":o_output:e -> \"h1\":' '$work/lt.dot' | grep -qF 'constraint=false'"
check "feedback control -> out is dashed" \
      "grep -F '\"control\":o_output:e -> \"out\":i_feedback:e' '$work/lt.dot' | grep -qF 'style=dashed'"
check "the integrator reads the network (bold), not as a coupling" \
      "grep -F '\"out\":o_output:s -> \"settle\":i_network:n' '$work/lt.dot' | grep -qF 'style=bold'"
check "the coupled nodes are boxed as one network" \
      "grep -qF 'subgraph cluster_network_' '$work/lt.dot' && grep -qF 'read by settle' '$work/lt.dot'"
check "a non-default property is shown (data: epochs = 50)" \
      "grep -F '\"data\" [label=' '$work/lt.dot' | grep -qF 'epochs = 50\\l'"
check "defaults are not shown (h1's size 256, learn's rule, adam's learning rate, time constants)" \
      "! grep -qE 'size = |rule = |learning-rate = |tau-e = |batch-size = ' '$work/lt.dot'"
check "the legend and the tick order are in the graph label" \
      "grep -qF 'tick order: data → h1 → out → control → settle' '$work/lt.dot' && grep -qF 'dashed blue: state coupling' '$work/lt.dot'"

"$inspect" --graph "$lt" h1.size=64 learn.rule=exact-inverse pipeline.seed=7 >"$work/over.dot"
check "overrides show as non-default properties, run settings in the label" \
      "grep -F '\"h1\" [label=' '$work/over.dot' | grep -qF 'size = 64\\l' && grep -F '\"learn\" [label=' '$work/over.dot' | grep -qF 'rule = exact-inverse\\l' && grep -qF '[pipeline] seed = 7' '$work/over.dot'"

"$inspect" --graph "$src/pipelines/quickstart.pipeline" -o "$work/qs.dot"
check "-o FILE.dot writes the file, no coupling in the legend of a pipeline without" \
      "[ $? -eq 0 ] && grep -qF 'solid: orders ticks' '$work/qs.dot' && ! grep -qF 'dashed blue' '$work/qs.dot'"

# --- rendering through Graphviz ------------------------------------------------
if command -v dot >/dev/null; then
  dot -Tsvg "$work/lt.dot" >"$work/lt.svg" 2>"$work/dot-err"
  check "dot -Tsvg accepts the graph without a warning" "[ $? -eq 0 ] && [ ! -s '$work/dot-err' ] && grep -q '<svg' '$work/lt.svg'"
  for p in "$src"/pipelines/*.pipeline; do
    "$inspect" --graph "$p" 2>/dev/null | dot -Tsvg >/dev/null 2>"$work/dot-err"
    if [ "${PIPESTATUS[0]}" -eq 0 ] && [ ! -s "$work/dot-err" ]; then :; else
      fail "dot accepts the graph of $(basename "$p"): $(cat "$work/dot-err")"; fi
  done
  ok "dot accepts the graph of every example pipeline"
  "$inspect" --graph "$lt" -o "$work/lt.png"
  check "-o FILE.png renders a PNG" "[ $? -eq 0 ] && [ \"\$(head -c 4 '$work/lt.png' | tail -c 3)\" = PNG ]"
  "$inspect" --graph "$lt" --graph-format svg >"$work/stdout.svg"
  check "--graph-format svg without -o writes SVG to stdout" "grep -q '<svg' '$work/stdout.svg'"
else
  echo "# dot (graphviz) not installed: rendering not checked"
fi
PATH=/nonexistent "$inspect" --graph "$lt" -o "$work/nodot.svg" 2>"$work/err"
check "without dot, svg is a clear error (exit 1)" \
      "[ $? -eq 1 ] && grep -qF 'needs Graphviz' '$work/err' && grep -qF 'apt-get install graphviz' '$work/err' && [ ! -e '$work/nodot.svg' ]"

# --- bad input ----------------------------------------------------------------
"$inspect" --graph "$work/no-such.pipeline" >"$work/out" 2>"$work/err"
check "missing file exits 1 naming it" "[ $? -eq 1 ] && grep -qF '$work/no-such.pipeline: cannot read' '$work/err' && [ ! -s '$work/out' ]"
"$inspect" --graph "$lt" h1.sise=3 >"$work/out" 2>"$work/err"
check "bad override exits 1 with the message" "[ $? -eq 1 ] && grep -qF 'override \"h1.sise=3\"' '$work/err' && grep -qF 'no property \"sise\"' '$work/err' && [ ! -s '$work/out' ]"
printf '[a]\nnode = constant-source\n[b]\nnode = recorder\ninput = c\n' >"$work/bad.pipeline"
"$inspect" --graph "$work/bad.pipeline" >"$work/out" 2>"$work/err"
check "a bad link exits 1 with file:line" "[ $? -eq 1 ] && grep -qF '$work/bad.pipeline:5:' '$work/err' && [ ! -s '$work/out' ]"
"$inspect" --graph 2>/dev/null
check "--graph without a file is a usage error (exit 2)" "[ $? -eq 2 ]"
"$inspect" --graph "$lt" --graph-format jpeg 2>/dev/null
check "an unknown format is a usage error (exit 2)" "[ $? -eq 2 ]"
"$inspect" -o "$work/x.dot" 2>/dev/null
check "-o without --graph is a usage error (exit 2)" "[ $? -eq 2 ]"
(cd "$work" && "$inspect" --graph no-such-name 2>"$work/err")
check "an unknown pipeline name exits 1 listing where it looked" \
      "[ $? -eq 1 ] && grep -qF 'no-such-name: no such pipeline file' '$work/err' && grep -qF '$src/pipelines' '$work/err'"
(cd "$work" && "$inspect" --graph mnist-1x256-linear-threshold >"$work/byname.dot")
check "a pipeline name finds the example (uninstalled: the source tree's)" \
      "diff <(grep -v '^  graph' '$work/lt.dot') <(grep -v '^  graph' '$work/byname.dot') >/dev/null"

tap_done
