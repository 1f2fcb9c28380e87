# tap.sh: TAP output for the end-to-end shell tests, sourced by each.
# Sets up $work (a temporary folder, removed on exit) and the counters;
# ok/fail/check print one TAP line each; tap_done prints the plan and
# exits non-zero when anything failed.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
n=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); failures=$((failures + 1)); echo "not ok $n - $1"; }
# check DESCRIPTION COMMAND: ok when COMMAND (eval'ed) succeeds.
check() { if eval "$2"; then ok "$1"; else fail "$1"; fi; }
tap_done() {
  echo "1..$n"
  [ $failures -eq 0 ]
}
