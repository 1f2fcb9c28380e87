#!/bin/sh
# format.sh [--check]: formats every C, header and CUDA source the project
# tracks with clang-format (.clang-format at the root); --check changes
# nothing and fails, listing the first differences, when a file is not
# formatted (CI runs that).
set -eu
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' '*.cu' '*.cuh')
if [ "${1:-}" = "--check" ]; then
  exec clang-format --dry-run --Werror $files
fi
exec clang-format -i $files
