#!/bin/sh
# disco-man.sh: a tool's man page from its --help, by help2man.
#   usage: disco-man.sh HELP2MAN OUTPUT TOOL NAME VERSION
# GOption writes "[OPTION…]"; troff has no "…" in an ASCII or C locale, so
# the page says "..." instead.
set -eu
help2man=$1 output=$2 tool=$3 name=$4 version=$5
"$help2man" --no-info --no-discard-stderr --locale=C.UTF-8 --version-string="$version" \
  --name="$name" --section=1 --output="$output.tmp" "$tool"
sed 's/…/.../g' "$output.tmp" >"$output"
rm -f "$output.tmp"
