# results.sh: helpers for the end-to-end shell tests that compare reports,
# sourced by each that needs them.

# strip_results FILE: results.json without its wall time and output folder,
# the only lines in which two runs of the same pipeline and overrides may
# differ (a sweep's run and the same run alone; one thread and several).
strip_results() {
  sed -E -e '/"wall_time_s"/d' -e 's/"output-dir": "[^"]*"/"output-dir": ""/' "$1"
}
