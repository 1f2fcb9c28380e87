#!/usr/bin/env bash
# The API reference (docs/reference): `gi-docgen check` finds every public
# symbol of the GIR documented (warnings fatal), and the HTML the build
# generated (with warnings fatal too) has a page per public class and the
# hand-written pages, listed in its index and linked to the API.
#   usage: test-docs.sh GI_DOCGEN GIR TOML HTML_DIR
set -uo pipefail
gi_docgen=$1 gir=$2 toml=$3 html=$4
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/common/tap.sh"

# Without --fatal-warnings, so that the log lists every undocumented symbol,
# not the first; any warning fails the test all the same.
"$gi_docgen" check --quiet --config "$toml" "$gir" >"$work/check" 2>&1
status=$?
warnings=$(grep -c WARNING "$work/check")
check "gi-docgen check: every public symbol is documented ($warnings warnings)" \
      "[ $status -eq 0 ] && [ $warnings -eq 0 ]"
[ "$warnings" -eq 0 ] || sed 's/\x1b\[[0-9;]*m//g; s/^/# /' "$work/check"

check "the reference has an index" "[ -s '$html/index.html' ]"
for class in Tensor Node Pipeline; do
  check "a page for DiscoTensor, DiscoNode, DiscoPipeline: Disco$class" \
        "grep -qF 'role=\"presentation\"></span>$class</h1>' '$html/class.$class.html' &&
         grep -qF 'Disco$class' '$html/class.$class.html' &&
         grep -qF 'href=\"class.$class.html\"' '$html/index.html'"
done
check "DiscoNode's page documents its hooks (the class struct's vfuncs)" \
      "grep -qF 'vfunc.Node.process.html' '$html/class.Node.html' && [ -s '$html/vfunc.Node.end_epoch.html' ]"
check "DiscoPipeline's page lists its properties and signals" \
      "grep -qF 'property.Pipeline.seed.html' '$html/class.Pipeline.html' && grep -qF 'signal.Pipeline.tick.html' '$html/class.Pipeline.html'"

for page in overview:Overview node-in-python:'Writing a node in Python' node-in-c:'Writing a node in C'; do
  file=${page%%:*} title=${page#*:}
  check "the page '$title' is generated and listed in the index" \
        "grep -qF '<h1 id=' '$html/$file.html' && grep -qF '$title' '$html/$file.html' &&
         grep -qF '<a href=\"$file.html\">$title</a>' '$html/index.html'"
  check "'$title' links into the API (no link left unresolved)" \
        "grep -qE 'href=\"(class|method|ctor|func|struct)\.[A-Za-z_.]+\.html\"' '$html/$file.html' &&
         ! grep -qE '\[[a-z_]+@Disco' '$html/$file.html'"
done
check "'Writing a node in C' shows the hooks, a property and the registration" \
      "grep -qF 'disco_clip_end_epoch' '$html/node-in-c.html' && grep -qF 'g_param_spec_double' '$html/node-in-c.html' &&
       grep -qF 'disco_registry_register' '$html/node-in-c.html' && grep -qF 'disco-inspect' '$html/node-in-c.html'"
check "'Writing a node in Python' shows the hooks, a property and the registration" \
      "grep -qF 'do_end_epoch' '$html/node-in-python.html' && grep -qF 'GObject.Property' '$html/node-in-python.html' &&
       grep -qF 'registry_register' '$html/node-in-python.html'"

tap_done
